// The Redis revocation store: the README "Redis schema" exactly, so external CAs
// can write it with plain HSET + PUBLISH. One round trip per lookup;
// every call bounded (redis-link.ts). It may share its command link with the
// Redis device registry (registry-redis.ts).
import type { Redis } from 'ioredis'
import type { OperatorAct, OperatorLogEntry, RevocationEntry, RevocationEvent, RevocationQuery, RevocationStatus, RevocationStore, RevocationTarget, RevokedRecord, StateChange, StateRecord } from '../stores/index.js'
import { bounded } from '../stores/index.js'
import { decodeAnnouncement, decodeEntry, decodeState, decodeStateAnnouncement, encodeAnnouncement, encodeEntry, encodeState, encodeStateAnnouncement, OPERATOR_ACTIONS, serialSpellings, type Keys } from './schema.js'
import { ChannelWatch, RedisStoreLink, type RedisStoreOptions } from './redis-link.js'

export type { RedisStoreOptions }

const BATCH = 1000

export class RedisRevocationStore implements RevocationStore {
  readonly kind = 'redis' as const
  readonly #link: RedisStoreLink
  readonly #watch: ChannelWatch
  #subReadyOnce = false
  #cmdLost = false

  /** a revocation store on `link` (its own or shared with the registry) */
  constructor (link: RedisStoreLink) {
    this.#link = link.use()
    this.#watch = new ChannelWatch(link, link.keys.revocations, 'fleetgate-revocation-sub')
    link.cmd.on('close', () => { if (!this.#watch.closed) this.#cmdLost = true })
  }

  /** Connect a link of its own (bounded); an unreachable server is the operator's FG_ERR_REDIS_UNAVAILABLE. */
  static async open (opts: RedisStoreOptions): Promise<RedisRevocationStore> {
    return new RedisRevocationStore(await RedisStoreLink.open(opts))
  }

  get keys (): Keys { return this.#link.keys }

  get #cmd (): Redis { return this.#link.cmd }

  healthy (): boolean {
    const sub = this.#watch.sub
    return !this.#watch.closed && this.#cmd.status === 'ready' && (sub === null || sub.status === 'ready')
  }

  async status (query: RevocationQuery): Promise<RevocationStatus> {
    const fps: string[] = []
    const serials = new Map<string, string[]>()
    for (const t of query.targets) {
      if ('fingerprint' in t) fps.push(t.fingerprint)
      else {
        let list = serials.get(t.issuer)
        if (!list) serials.set(t.issuer, (list = []))
        list.push(t.serial)
      }
    }
    const issuers = [...serials.keys()]
    if (fps.length === 0 && issuers.length === 0) return { revoked: null, state: null }
    // The commands are issued together, not as an ioredis Pipeline: they leave in one
    // write all the same (redisClient coalesces a turn's commands) and a Pipeline
    // cost the broker ~2-3x their client-side CPU (measured: 33-85 µs a lookup against 17-22).
    const cmd = this.#cmd
    const lookups: Array<Promise<Array<string | null>>> = []
    if (fps.length > 0) lookups.push(cmd.hmget(this.keys.cert, ...fps))
    const spelled = issuers.map((i) => serials.get(i)!.map((s) => serialSpellings(s)))
    issuers.forEach((issuer, i) => lookups.push(cmd.hmget(this.keys.serial(issuer), ...spelled[i]!.flat())))
    // the states in the same round trip (README "Certificate states")
    if (fps.length > 0) lookups.push(cmd.hmget(this.keys.stateCert, ...fps))
    issuers.forEach((issuer, i) => lookups.push(cmd.hmget(this.keys.stateSerial(issuer), ...spelled[i]!.flat())))
    const results = await bounded(Promise.all(lookups), this.#link.opts.timeoutMs, 'revocation lookup')
    let at = 0
    let revoked: RevokedRecord | null = null
    if (fps.length > 0) {
      const values = results[at++]!
      const i = values.findIndex((v) => v !== null)
      if (i >= 0) revoked = { fingerprint: fps[i]!, ...decodeEntry(values[i]!) }
    }
    issuers.forEach((issuer, k) => {
      const values = results[at++]!
      if (revoked) return
      let v = 0
      for (const [j, spellings] of spelled[k]!.entries()) {
        for (let s = 0; s < spellings.length; s++, v++) {
          if (!revoked && values[v] !== null) revoked = { issuer, serial: serials.get(issuer)![j]!, ...decodeEntry(values[v]!) }
        }
      }
    })
    let state: StateRecord | null = null
    if (fps.length > 0) {
      const values = results[at++]!
      const i = values.findIndex((v) => v !== null)
      if (i >= 0) state = { fingerprint: fps[i]!, ...decodeState(values[i]!) }
    }
    issuers.forEach((issuer, k) => {
      const values = results[at++]!
      let v = 0
      for (const [j, spellings] of spelled[k]!.entries()) {
        for (let s = 0; s < spellings.length; s++, v++) {
          if (!state && values[v] !== null) state = { issuer, serial: serials.get(issuer)![j]!, ...decodeState(values[v]!) }
        }
      }
    })
    return { revoked, state }
  }

  /** Write (HSET, or HDEL for active) and log (XADD) each target's state, then announce it; durable like a revocation. */
  async setState (targets: readonly RevocationTarget[], change: StateChange): Promise<number> {
    const p = this.#cmd.pipeline()
    for (const t of targets) {
      const [key, field] = 'fingerprint' in t ? [this.keys.stateCert, t.fingerprint] : [this.keys.stateSerial(t.issuer), t.serial]
      if (change.state === 'active') p.hdel(key, field)
      else p.hset(key, field, encodeState({ state: change.state, at: change.at, by: change.by, reason: change.reason }))
      this.#log(p, { action: change.state === 'active' ? 'activate' : change.state === 'inactive' ? 'deactivate' : 'quarantine', target: t, by: change.by, at: change.at, reason: change.reason, note: change.note ?? '' })
    }
    for (const t of targets) p.publish(this.keys.revocations, encodeStateAnnouncement(t, change.state))
    const results = await bounded(p.exec(), this.#link.bulkMs, 'state write')
    for (const [err] of results ?? []) if (err) throw err
    await this.#link.replicated('state change')
    return targets.length
  }

  /** XADD one operator log entry to the pipeline (README "Operator log") */
  #log (p: ReturnType<Redis['pipeline']>, e: OperatorLogEntry): void {
    const target = 'fingerprint' in e.target ? ['fingerprint', e.target.fingerprint] : ['issuer', e.target.issuer, 'serial', e.target.serial]
    p.xadd(this.keys.oplog, '*', 'action', e.action, ...target, 'by', e.by, 'at', e.at, 'reason', e.reason, 'note', e.note)
  }

  async history (match: { readonly fingerprint?: string; readonly serial?: string }): Promise<OperatorLogEntry[]> {
    const out: OperatorLogEntry[] = []
    let start = '-'
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const page = await bounded(this.#cmd.xrange(this.keys.oplog, start, '+', 'COUNT', 1000), this.#link.bulkMs, 'operator log')
      for (const [, fields] of page) {
        const e = decodeLogFields(fields)
        if (e === null) continue
        const t = e.target
        if (('fingerprint' in t && t.fingerprint === match.fingerprint) || ('serial' in t && t.serial === match.serial)) out.push(e)
      }
      if (page.length < 1000) break
      start = '(' + page[page.length - 1]![0]
    }
    return out
  }

  async revoke (targets: readonly RevocationTarget[], entry: RevocationEntry, onProgress?: (done: number, total: number) => void): Promise<number> {
    const records = targets.map((t) => ({ ...t, reason: entry.reason, revokedAt: entry.revokedAt }) as RevokedRecord)
    return await this.#write(records, onProgress, { by: entry.by ?? '', note: entry.note ?? '' }, false)
  }

  async revokeMany (records: readonly RevokedRecord[], onProgress?: (done: number, total: number) => void, by?: OperatorAct): Promise<number> {
    return await this.#write(records, onProgress, { by: by?.by ?? '', note: by?.note ?? '' }, true)
  }

  /**
   * Write, log (XADD) and announce records in batches. `skipUnchanged` (an import):
   * one HGET round trip per batch first, and a record stored with the same value is
   * neither written, logged nor announced again. Returns how many were written.
   */
  async #write (records: readonly RevokedRecord[], onProgress: ((done: number, total: number) => void) | undefined, act: Required<OperatorAct>, skipUnchanged: boolean): Promise<number> {
    let written = 0
    for (let i = 0; i < records.length; i += BATCH) {
      let chunk = records.slice(i, i + BATCH)
      if (skipUnchanged) {
        const read = this.#cmd.pipeline()
        for (const r of chunk) {
          if ('fingerprint' in r) read.hget(this.keys.cert, r.fingerprint)
          else read.hget(this.keys.serial(r.issuer), r.serial)
        }
        const stored = await bounded(read.exec(), this.#link.bulkMs, 'revocation read')
        for (const [err] of stored ?? []) if (err) throw err
        chunk = chunk.filter((r, k) => stored?.[k]?.[1] !== encodeEntry(r))
      }
      if (chunk.length > 0) {
        const p = this.#cmd.pipeline()
        // Writes first, then the announcements: a node that hears one finds the write.
        for (const r of chunk) {
          const value = encodeEntry(r)
          if ('fingerprint' in r) p.hset(this.keys.cert, r.fingerprint, value)
          else p.hset(this.keys.serial(r.issuer), r.serial, value)
        }
        for (const r of chunk) this.#log(p, { action: 'revoke', target: 'fingerprint' in r ? { fingerprint: r.fingerprint } : { issuer: r.issuer, serial: r.serial }, by: act.by, at: r.revokedAt, reason: r.reason, note: act.note })
        for (const r of chunk) p.publish(this.keys.revocations, encodeAnnouncement(r))
        const results = await bounded(p.exec(), this.#link.bulkMs, 'revocation write')
        for (const [err] of results ?? []) if (err) throw err
        // durable once a replica has it (--redis-min-replicas): a failover now keeps it
        await this.#link.replicated(records.length <= BATCH ? 'revocation' : `revocations ${i + 1}-${i + Math.min(BATCH, records.length - i)} of ${records.length}`)
      }
      written += chunk.length
      onProgress?.(Math.min(i + BATCH, records.length), records.length)
    }
    return written
  }

  async list (): Promise<RevokedRecord[]> {
    const bulkMs = this.#link.bulkMs
    const out: RevokedRecord[] = []
    const certs = await bounded(this.#cmd.hgetall(this.keys.cert), bulkMs, 'revocation list')
    for (const [fingerprint, v] of Object.entries(certs)) out.push({ fingerprint, ...decodeEntry(v) })
    const prefixLen = this.keys.serial('').length
    let cursor = '0'
    let rounds = 0
    do {
      const [next, keys] = await bounded(this.#cmd.scan(cursor, 'MATCH', this.keys.serialPattern, 'COUNT', 1000), bulkMs, 'revocation list')
      cursor = next
      for (const key of keys) {
        const issuer = key.slice(prefixLen)
        const fields = await bounded(this.#cmd.hgetall(key), bulkMs, 'revocation list')
        for (const [serial, v] of Object.entries(fields)) out.push({ issuer, serial, ...decodeEntry(v) })
      }
    } while (cursor !== '0' && ++rounds < 1_000_000)
    return out
  }

  /**
   * Subscribe to revocations; `resync` after every reconnect. A subscriber link
   * that cannot connect or subscribe is FG_ERR_REDIS_UNAVAILABLE (redis-link.ts).
   */
  async watch (onEvent: (event: RevocationEvent) => void): Promise<void> {
    await this.#watch.start((message) => {
      const changed = decodeStateAnnouncement(message)
      if (changed) { onEvent({ kind: 'state', target: changed }); return }
      const target = decodeAnnouncement(message)
      // An announcement we cannot read still says "something was revoked": re-check everything.
      onEvent(target ? { kind: 'revoked', target } : { kind: 'resync' })
    }, () => {
      if (this.#subReadyOnce) onEvent({ kind: 'resync' })
      this.#subReadyOnce = true
    })
    if (this.#watch.closed) return
    // The command link alone may drop too (a write made then was missed by no one, but re-check anyway).
    this.#cmd.on('ready', () => { if (this.#cmdLost && !this.#watch.closed) { this.#cmdLost = false; onEvent({ kind: 'resync' }) } })
  }

  async close (): Promise<void> {
    await this.#watch.close()
  }
}

/** one stream entry's fields -> an operator log entry; null when it is not one */
function decodeLogFields (fields: string[]): OperatorLogEntry | null {
  const m = new Map<string, string>()
  for (let i = 0; i + 1 < fields.length; i += 2) m.set(fields[i]!, fields[i + 1]!)
  const action = m.get('action')
  if (!(OPERATOR_ACTIONS as readonly string[]).includes(action ?? '')) return null
  const fingerprint = m.get('fingerprint')
  const issuer = m.get('issuer')
  const serial = m.get('serial')
  const target: RevocationTarget | null = fingerprint !== undefined ? { fingerprint } : issuer !== undefined && serial !== undefined ? { issuer, serial } : null
  if (target === null) return null
  return { action: action as OperatorLogEntry['action'], target, by: m.get('by') ?? '', at: m.get('at') ?? '', reason: m.get('reason') ?? '', note: m.get('note') ?? '' }
}
