// The broker side of revocation: the connect check (one lookup, a cache of clean
// answers, fail closed) and live enforcement (events kick sessions at once, a
// periodic and a post-reconnect re-check catch what no event announced).
// It finds and ends live sessions through the LiveSessions port (src/contract),
// which the broker implements over its session registry.
import type { Identity } from '../identity/index.js'
import type { AuditLogger } from '../audit/index.js'
import { identityFields } from '../audit/index.js'
import type { CheckResult, DecisionCounter } from '../contract/checks.js'
import type { LiveSessions } from '../contract/live-sessions.js'
import type { ConnectReason } from '../contract/reasons.js'
import { fgError } from '../contract/errors.js'
import { CleanCache } from '../revocation/clean-cache.js'
import { queryOf, targetsOf } from '../revocation/query.js'
import { targetKey } from '../revocation/schema.js'
import type { CertState, RevocationTarget, StateRecord } from '../stores/revocations.js'
import type { CertificateStatusSource, StoreEvent } from '../stores/connect-status.js'

/** `H`: the broker's handle of one live session (an Aedes client), opaque here. */
export interface RevocationGuardOptions<H = unknown> {
  /** the revocation store and the device registry as the connect check reads them (certificateStatus, src/stores) */
  readonly store: CertificateStatusSource
  /** the live sessions a revocation can end */
  readonly sessions: LiveSessions<H>
  readonly log: AuditLogger
  /** --revocation-recheck */
  readonly recheckMs: number
  /** --revocation-cache */
  readonly cacheMs: number
  /** --revocation-fail-open */
  readonly failOpen: boolean
  /** counts admissions under --revocation-fail-open (the sessions' end() counts the kicks) */
  readonly decisions?: DecisionCounter
}

const LOOKUP_ATTEMPTS = 3
const RECHECK_CONCURRENCY = 256

function describe (t: RevocationTarget): string {
  return 'fingerprint' in t ? `fingerprint ${t.fingerprint.slice(0, 16)}` : `issuer ${t.issuer.slice(0, 16)} serial ${t.serial}`
}

/** the state that keeps a certificate out; quarantined is admitted under the quarantine role */
function keepsOut (state: CertState): boolean {
  return state === 'inactive'
}

/** the policy role a quarantined certificate is judged under (README "Certificate states") */
export const QUARANTINE = 'quarantine'


/** keys of every target an identity answers to (leaf and CAs) */
function keysOf (identity: Identity): string[] {
  return targetsOf(identity).map(targetKey)
}

export class RevocationGuard<H = unknown> {
  readonly cache: CleanCache
  readonly #o: RevocationGuardOptions<H>
  #queue: RevocationTarget[] = []
  #flushScheduled = false
  #timer: NodeJS.Timeout | null = null
  #rechecking: Promise<number> | null = null
  #recheckAgain = false
  #listening = false
  #stopped = false

  constructor (opts: RevocationGuardOptions<H>) {
    this.#o = opts
    this.cache = new CleanCache(opts.cacheMs)
  }

  /** The ConnectCheck: revoked -> `revoked`; store unreachable -> `revocation_unavailable` (unless cached clean or fail-open). */
  readonly check = async (identity: Identity): Promise<CheckResult<ConnectReason>> => {
    const { store } = this.#o
    const fp = identity.fingerprint
    // Events flow, so a clean answer within the TTL is still true.
    if (store.healthy() && this.cache.isClean(fp)) return { ok: true }
    const query = queryOf(identity)
    for (let attempt = 1; ; attempt++) {
      const generation = this.cache.generation
      let status
      try {
        status = await store.status(query)
      } catch (err) {
        return this.#unavailable(identity, err as Error)
      }
      if (status.revoked) return { ok: false, reason: 'revoked', detail: describe(status.revoked) }
      // inactive (README "Certificate states"): refused until activated; never cached clean
      if (status.state && keepsOut(status.state.state)) return { ok: false, reason: 'cert_inactive', detail: `${describe(status.state)} ${status.state.state}` }
      // quarantined: admitted under the quarantine role, and never cached clean (the cache would admit it under its own)
      if (status.state?.state === 'quarantined') return { ok: true, judgeAs: QUARANTINE }
      // A revocation event arrived while we asked: the answer may predate it.
      if (generation !== this.cache.generation && attempt < LOOKUP_ATTEMPTS) continue
      if (generation !== this.cache.generation) this.#soon(identity)
      this.cache.put(fp, generation)
      if (query.registry && status.registry?.state === 'issued') this.#markActive(query.registry.vin, fp)
      return { ok: true }
    }
  }

  #unavailable (identity: Identity, err: Error): CheckResult<ConnectReason> {
    const { log, failOpen } = this.#o
    const cert = identityFields(identity)
    if (this.cache.isClean(identity.fingerprint)) {
      log.warn({ evt: 'revocation.cached', cert, err: err.message }, 'revocation store unreachable: admitted on a recent clean answer')
      return { ok: true }
    }
    if (failOpen) {
      log.error({ evt: 'revocation.fail_open', cert, err: err.message }, 'REVOCATION NOT CHECKED: store unreachable and --revocation-fail-open is set; admitting')
      this.#o.decisions?.inc('revocation.fail_open', 'revocation_unavailable')
      return { ok: true }
    }
    return { ok: false, reason: 'revocation_unavailable', detail: err.message }
  }

  #markActive (vin: string, fingerprint: string): void {
    this.#o.store.markActive(vin, fingerprint).then((changed) => {
      if (changed) this.#o.log.info({ evt: 'registry.first_connect', vin, fp: fingerprint }, 'certificate marked active on first connect')
    }, (err: Error) => this.#o.log.warn({ evt: 'registry.error', vin, err: err.message }, 'could not mark the certificate active'))
  }

  /** Subscribe to the store's events (before the first CONNECT: the clean cache depends on them). */
  async listen (): Promise<void> {
    if (this.#listening) return
    this.#listening = true
    if (this.#o.failOpen) this.#o.log.error({ evt: 'revocation.fail_open_configured' }, '--revocation-fail-open is set: clients are ADMITTED UNCHECKED whenever the revocation store is unreachable')
    try {
      await this.#o.store.watch((e) => this.#onEvent(e))
    } catch (err) {
      throw fgError('FG_ERR_REDIS_UNAVAILABLE', `revocation events: ${(err as Error).message}`, err)
    }
  }

  /** Start the periodic re-check of live sessions (--revocation-recheck). */
  start (): void {
    if (this.#timer || this.#stopped) return
    this.#timer = setInterval(() => { void this.recheckAll('periodic') }, this.#o.recheckMs)
    this.#timer.unref()
  }

  /** The edge command check's lookup: is this signer (or its issuing CA) revoked? Rejects when the store cannot answer. */
  readonly signerRevoked = async (leafFingerprint: string, issuerFingerprint: string, serial: string,
    issuingCa?: { readonly serial: string; readonly rootFingerprint: string }): Promise<boolean> => {
    // the same targets as a CONNECT of that certificate (targetsOf): leaf, issuing CA, root
    const targets: RevocationTarget[] = [{ fingerprint: leafFingerprint }, { issuer: issuerFingerprint, serial }, { fingerprint: issuerFingerprint }]
    if (issuingCa) targets.push({ issuer: issuingCa.rootFingerprint, serial: issuingCa.serial }, { fingerprint: issuingCa.rootFingerprint })
    const st = await this.#o.store.status({ targets, fresh: true })
    return st.revoked !== null
  }

  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await this.#rechecking?.catch(() => 0)
  }

  #onEvent (e: StoreEvent): void {
    if (this.#stopped) return
    if (e.kind === 'first_connect') return
    this.cache.invalidate()
    if (e.kind === 'state') {
      // a state change: read the named sessions' state again (fresh) and act on what the store says now
      const clients = [...this.#o.sessions.candidatesFor([e.target])]
      if (clients.length > 0) void this.#recheckClients(clients, 'state', true)
      return
    }
    if (e.kind === 'resync') {
      this.#o.log.info({ evt: 'revocation.resync' }, 're-checking every live session')
      void this.recheckAll('resync')
      return
    }
    // Batch the events of one tick (a CRL import sends thousands): one pass over the sessions they name.
    this.#queue.push(e.target)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => this.#flush())
    }
  }

  #flush (): void {
    this.#flushScheduled = false
    const targets = this.#queue
    this.#queue = []
    const byKey = new Map(targets.map((t) => [targetKey(t), t]))
    // The registry's index names the sessions these targets can end; each is checked against all its own keys.
    for (const client of this.#o.sessions.candidatesFor(byKey.values())) {
      const session = this.#o.sessions.get(client)
      if (!session || session.endedFor !== undefined) continue
      const hit = keysOf(session.identity).find((k) => byKey.has(k))
      if (hit !== undefined) this.#kick(client, session.identity, 'event', byKey.get(hit)!)
    }
  }

  #kick (client: H, identity: Identity, via: 'event' | 'recheck', target: RevocationTarget): void {
    this.#o.sessions.end(client, {
      evt: 'revocation.kick', reason: 'revoked', audit: { via, target: describe(target), cert: identityFields(identity) }, message: 'revoked certificate: session closed',
    })
  }

  #kickInactive (client: H, identity: Identity, why: string, state: StateRecord): void {
    this.#o.sessions.end(client, {
      evt: 'revocation.kick', reason: 'cert_inactive', audit: { via: why === 'state' ? 'event' : 'recheck', target: describe(state), state: state.state, by: state.by, cert: identityFields(identity) }, message: 'inactive certificate: session closed',
    })
  }

  /** A connect that raced a stream of events: re-check its session once it is registered. */
  #soon (identity: Identity): void {
    setTimeout(() => { void this.#recheckClients(this.#o.sessions.byFingerprint(identity.fingerprint), 'race') }, 0).unref()
  }

  /** Re-check every live session against the store; the number kicked. */
  recheckAll (why: string): Promise<number> {
    if (this.#rechecking) { this.#recheckAgain = true; return this.#rechecking }
    this.#rechecking = this.#recheckClients(this.#o.sessions.live(), why).finally(() => {
      this.#rechecking = null
      if (this.#recheckAgain && !this.#stopped) { this.#recheckAgain = false; void this.recheckAll(why) }
    })
    return this.#rechecking
  }

  async #recheckClients (clients: readonly H[], why: string, fresh = false): Promise<number> {
    const byFp = new Map<string, { identity: Identity; clients: H[] }>()
    for (const c of clients) {
      const s = this.#o.sessions.get(c)
      if (!s || s.endedFor !== undefined) continue
      let g = byFp.get(s.identity.fingerprint)
      if (!g) byFp.set(s.identity.fingerprint, (g = { identity: s.identity, clients: [] }))
      g.clients.push(c)
    }
    const groups = [...byFp.values()]
    let kicked = 0
    let failed = 0
    for (let i = 0; i < groups.length && !this.#stopped; i += RECHECK_CONCURRENCY) {
      await Promise.all(groups.slice(i, i + RECHECK_CONCURRENCY).map(async (g) => {
        try {
          const st = await this.#o.store.status({ targets: targetsOf(g.identity), identity: g.identity, ...(fresh ? { fresh } : {}) })
          const inactive = st.revoked === null && st.state && keepsOut(st.state.state) ? st.state : null
          if (!st.revoked && !inactive) {
            // quarantined: judged under the quarantine role; otherwise back under its own
            const role = st.state?.state === 'quarantined' ? QUARANTINE : undefined
            for (const c of g.clients) {
              const s = this.#o.sessions.get(c)
              if (s && s.endedFor === undefined && s.judgedAs !== role) {
                if (this.#o.sessions.judgeAs === undefined) { if (role !== undefined) this.#kickInactive(c, s.identity, why, st.state!); continue }
                this.#o.sessions.judgeAs(c, role, { via: why === 'state' ? 'event' : 'recheck', state: st.state?.state ?? 'active', ...(st.state ? { target: describe(st.state), by: st.state.by } : {}) })
              }
            }
            return
          }
          this.cache.invalidate()
          for (const c of g.clients) {
            const s = this.#o.sessions.get(c)
            if (!s || s.endedFor !== undefined) continue
            if (st.revoked) this.#kick(c, s.identity, why === 'state' ? 'event' : 'recheck', st.revoked)
            else this.#kickInactive(c, s.identity, why, inactive!)
            kicked++
          }
        } catch {
          failed++
        }
      }))
    }
    if (failed > 0) this.#o.log.warn({ evt: 'revocation.recheck_failed', why, failed, of: groups.length }, 'revocation re-check incomplete: store unreachable')
    else this.#o.log.debug({ evt: 'revocation.recheck', why, checked: groups.length, kicked }, 'live sessions re-checked')
    return kicked
  }
}
