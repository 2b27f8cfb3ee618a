// The Redis revocation store: the DESIGN schema exactly, so external CAs can
// write it with plain HSET + PUBLISH. One pipelined round trip per connect;
// every call bounded; commands fail at once while disconnected (no offline
// queue), so the caller can fail closed instead of waiting.
import { Redis, type RedisOptions } from 'ioredis'
import { fgError } from '../contract/errors.js'
import type { AuditLogger } from '../audit/index.js'
import { bounded } from './bounded.js'
import {
  DEFAULT_PREFIX, decodeAnnouncement, decodeEntry, decodeFirstConnect, decodeRegistry, encodeAnnouncement, encodeEntry,
  encodeFirstConnect, encodeRegistry, keysFor, serialSpellings, type Keys,
} from './schema.js'
import type {
  CertificateQuery, CertificateStatus, RegistryRecord, RevocationEntry, RevocationStore, RevocationTarget, RevokedRecord, StoreEvent,
} from './types.js'

export interface RedisStoreOptions {
  readonly url: string
  readonly prefix?: string
  /** bound on every call at connect time (--revocation-timeout) */
  readonly timeoutMs: number
  /** bound on bulk writes and listings (CLI) */
  readonly bulkTimeoutMs?: number
  readonly log?: AuditLogger
}

const BATCH = 1000

// issued -> active, and the first_connect announcement, atomically.
const MARK_ACTIVE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local ok, r = pcall(cjson.decode, v)
if not ok or type(r) ~= 'table' or r.state ~= 'issued' then return 0 end
r.state = 'active'
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1`

interface ScriptCommands { fgMarkActive (registryKey: string, channel: string, fingerprint: string, event: string): Promise<number> }

/** ioredis retryStrategy of every fleetgate Redis link: 50 ms more per attempt, at most 1 s */
export function redisRetryDelay (times: number): number { return Math.min(50 * times, 1000) }

/**
 * Open a fleetgate Redis link (the revocation store, the provisioner's state):
 * lazyConnect and the shared retry strategy, then `options`. `setup` runs
 * before the connect (listeners, scripts). The connect is bounded by `boundMs`
 * when given; a failure drops the link and is FG_ERR_REDIS_UNAVAILABLE
 * `<label>: <why>`.
 */
export async function openRedisLink (url: string, options: RedisOptions, label: string, setup: (redis: Redis) => void, boundMs?: number): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, retryStrategy: redisRetryDelay, ...options })
  setup(redis)
  try {
    await (boundMs === undefined ? redis.connect() : bounded(redis.connect(), boundMs, 'redis connect'))
  } catch (err) {
    redis.disconnect()
    throw fgError('FG_ERR_REDIS_UNAVAILABLE', `${label}: ${(err as Error).message}`, err)
  }
  return redis
}

export class RedisRevocationStore implements RevocationStore {
  readonly kind = 'redis' as const
  readonly keys: Keys
  readonly #cmd: Redis
  #sub: Redis | null = null
  readonly #opts: RedisStoreOptions
  readonly #bulkMs: number
  #closed = false
  #subReadyOnce = false
  #watching = false
  #cmdLost = false

  private constructor (cmd: Redis, opts: RedisStoreOptions) {
    this.#cmd = cmd
    this.#opts = opts
    this.keys = keysFor(opts.prefix ?? DEFAULT_PREFIX)
    this.#bulkMs = Math.max(opts.bulkTimeoutMs ?? 30_000, opts.timeoutMs)
  }

  /** Connect (bounded); an unreachable server is the operator's FG_ERR_REDIS_UNAVAILABLE. */
  static async open (opts: RedisStoreOptions): Promise<RedisRevocationStore> {
    let store: RedisRevocationStore | undefined
    await openRedisLink(opts.url, {
      enableOfflineQueue: false,
      commandTimeout: opts.timeoutMs,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(opts.timeoutMs, 2000),
      connectionName: 'fleetgate-revocation',
    }, `--redis ${redactUrl(opts.url)}`, (cmd) => {
      cmd.defineCommand('fgMarkActive', { numberOfKeys: 2, lua: MARK_ACTIVE })
      const s = new RedisRevocationStore(cmd, opts)
      cmd.on('error', (err: Error) => s.#onError('command', err))
      cmd.on('close', () => { if (!s.#closed) s.#cmdLost = true })
      store = s
    }, Math.max(opts.timeoutMs, 5000))
    return store!
  }

  #lastError = 0
  #onError (which: string, err: Error): void {
    if (this.#closed) return
    // one line per outage second, not one per retry
    const now = Date.now()
    if (now - this.#lastError < 1000) return
    this.#lastError = now
    this.#opts.log?.warn({ evt: 'revocation.store_error', conn: which, err: err.message }, 'revocation store unreachable')
  }

  healthy (): boolean {
    return this.#cmd.status === 'ready' && (this.#sub === null || this.#sub.status === 'ready')
  }

  async status (query: CertificateQuery): Promise<CertificateStatus> {
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
    const p = this.#cmd.pipeline()
    if (fps.length > 0) p.hmget(this.keys.cert, ...fps)
    const issuers = [...serials.keys()]
    const spelled = issuers.map((i) => serials.get(i)!.map((s) => serialSpellings(s)))
    issuers.forEach((issuer, i) => p.hmget(this.keys.serial(issuer), ...spelled[i]!.flat()))
    if (query.registry) p.hget(this.keys.registry(query.registry.vin), query.registry.fingerprint)
    const results = await bounded(p.exec(), this.#opts.timeoutMs, 'revocation lookup')
    if (!results) throw new Error('revocation lookup: pipeline discarded')
    for (const [err] of results) if (err) throw err
    let at = 0
    let revoked: RevokedRecord | null = null
    if (fps.length > 0) {
      const values = results[at++]![1] as Array<string | null>
      const i = values.findIndex((v) => v !== null)
      if (i >= 0) revoked = { fingerprint: fps[i]!, ...decodeEntry(values[i]!) }
    }
    issuers.forEach((issuer, k) => {
      const values = results[at++]![1] as Array<string | null>
      if (revoked) return
      let v = 0
      for (const [j, spellings] of spelled[k]!.entries()) {
        for (let s = 0; s < spellings.length; s++, v++) {
          if (!revoked && values[v] !== null) revoked = { issuer, serial: serials.get(issuer)![j]!, ...decodeEntry(values[v]!) }
        }
      }
    })
    const registry = query.registry ? decodeOrNull(results[at]![1] as string | null) : null
    return { revoked, registry }
  }

  async revoke (targets: readonly RevocationTarget[], entry: RevocationEntry, onProgress?: (done: number, total: number) => void): Promise<number> {
    return await this.revokeMany(targets.map((t) => ({ ...t, ...entry }) as RevokedRecord), onProgress)
  }

  async revokeMany (records: readonly RevokedRecord[], onProgress?: (done: number, total: number) => void): Promise<number> {
    let done = 0
    for (let i = 0; i < records.length; i += BATCH) {
      const p = this.#cmd.pipeline()
      const chunk = records.slice(i, i + BATCH)
      // Writes first, then the announcements: a node that hears one finds the write.
      for (const r of chunk) {
        const value = encodeEntry(r)
        if ('fingerprint' in r) p.hset(this.keys.cert, r.fingerprint, value)
        else p.hset(this.keys.serial(r.issuer), r.serial, value)
      }
      for (const r of chunk) p.publish(this.keys.revocations, encodeAnnouncement(r))
      const results = await bounded(p.exec(), this.#bulkMs, 'revocation write')
      for (const [err] of results ?? []) if (err) throw err
      done += chunk.length
      onProgress?.(done, records.length)
    }
    return done
  }

  async list (): Promise<RevokedRecord[]> {
    const out: RevokedRecord[] = []
    const certs = await bounded(this.#cmd.hgetall(this.keys.cert), this.#bulkMs, 'revocation list')
    for (const [fingerprint, v] of Object.entries(certs)) out.push({ fingerprint, ...decodeEntry(v) })
    const prefixLen = this.keys.serial('').length
    let cursor = '0'
    let rounds = 0
    do {
      const [next, keys] = await bounded(this.#cmd.scan(cursor, 'MATCH', this.keys.serialPattern, 'COUNT', 1000), this.#bulkMs, 'revocation list')
      cursor = next
      for (const key of keys) {
        const issuer = key.slice(prefixLen)
        const fields = await bounded(this.#cmd.hgetall(key), this.#bulkMs, 'revocation list')
        for (const [serial, v] of Object.entries(fields)) out.push({ issuer, serial, ...decodeEntry(v) })
      }
    } while (cursor !== '0' && ++rounds < 1_000_000)
    return out
  }

  async registryGet (vin: string): Promise<Record<string, RegistryRecord>> {
    const all = await bounded(this.#cmd.hgetall(this.keys.registry(vin)), this.#opts.timeoutMs, 'registry read')
    const out: Record<string, RegistryRecord> = {}
    for (const [fp, v] of Object.entries(all)) { const r = decodeRegistry(v); if (r) out[fp] = r }
    return out
  }

  async registrySet (vin: string, fingerprint: string, record: RegistryRecord): Promise<void> {
    await bounded(this.#cmd.hset(this.keys.registry(vin), fingerprint, encodeRegistry(record)), this.#opts.timeoutMs, 'registry write')
  }

  async markActive (vin: string, fingerprint: string): Promise<boolean> {
    // EVALSHA (ioredis falls back to EVAL once after a SCRIPT FLUSH): the script is not resent per connect
    const changed = await bounded((this.#cmd as unknown as ScriptCommands).fgMarkActive(this.keys.registry(vin), this.keys.certificates, fingerprint, encodeFirstConnect(vin, fingerprint)),
      this.#opts.timeoutMs, 'registry update')
    return changed === 1
  }

  /**
   * Subscribe to revocations and registry events; `resync` after every reconnect.
   * A subscriber link that cannot connect or subscribe is dropped at once (no
   * link left retrying behind a failed start) and is FG_ERR_REDIS_UNAVAILABLE.
   */
  async watch (onEvent: (event: StoreEvent) => void): Promise<void> {
    if (this.#watching) throw new Error('watch() called twice')
    this.#watching = true
    const boundMs = Math.max(this.#opts.timeoutMs, 5000)
    const label = `--redis ${redactUrl(this.#opts.url)}, subscriber link`
    const sub = await openRedisLink(this.#opts.url, { autoResubscribe: true, maxRetriesPerRequest: null, connectionName: 'fleetgate-revocation-sub' }, label, (sub) => {
      sub.on('error', (err: Error) => this.#onError('subscriber', err))
      sub.on('message', (channel: string, message: string) => {
        if (channel === this.keys.revocations) {
          const target = decodeAnnouncement(message)
          // An announcement we cannot read still says "something was revoked": re-check everything.
          onEvent(target ? { kind: 'revoked', target } : { kind: 'resync' })
        } else if (channel === this.keys.certificates) {
          const fc = decodeFirstConnect(message)
          if (fc) onEvent({ kind: 'first_connect', vin: fc.vin, fingerprint: fc.fingerprint })
        }
      })
      sub.on('ready', () => {
        if (this.#subReadyOnce) onEvent({ kind: 'resync' })
        this.#subReadyOnce = true
      })
    }, boundMs)
    try {
      await bounded(sub.subscribe(this.keys.revocations, this.keys.certificates), boundMs, 'redis subscribe')
    } catch (err) {
      sub.disconnect()
      throw fgError('FG_ERR_REDIS_UNAVAILABLE', `${label}: ${(err as Error).message}`, err)
    }
    // closed while connecting: close() did not see this link
    if (this.#closed) { sub.disconnect(); return }
    this.#sub = sub
    // The command link alone may drop too (a write made then was missed by no one, but re-check anyway).
    this.#cmd.on('ready', () => { if (this.#cmdLost) { this.#cmdLost = false; onEvent({ kind: 'resync' }) } })
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([this.#cmd, this.#sub].map(async (c) => {
      if (!c) return
      try { await bounded(c.quit(), 1000, 'redis quit') } catch { c.disconnect() }
    }))
  }
}

function decodeOrNull (value: string | null): RegistryRecord | null {
  return value === null ? null : decodeRegistry(value)
}

/** the URL without its password, for messages */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '<invalid url>'
  }
}
