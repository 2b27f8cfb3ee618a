// fleetgate's Aedes hooks. Each hook's refusal reaches the client the way Aedes
// gives it (Aedes' hook contract, ARCHITECTURE.md step 6): authenticate -> CONNACK 5 then close; authorizePublish
// -> close [MQTT-3.3.5-2]; authorizeSubscribe -> SUBACK 0x80 for that filter;
// authorizeForward -> the delivery is dropped.
import type { Client, AedesPublishPacket, AuthErrorCode, ConnectPacket, PublishPacket, Subscription, AuthenticateError } from 'aedes'
import type { Identity } from '../identity/index.js'
import type { Policy } from '../policy/index.js'
import type { AuditLogger } from '../audit/index.js'
import { identityFields, clip, auditConnectAllow } from '../audit/index.js'
import type { ConnectReason, PublishReason, Reason, SubscribeReason } from '../contract/reasons.js'
import type { CheckResult, ConnectCheck, DecisionCounter, PublishCheck, SubscribeCheck } from '../contract/checks.js'
export type { CheckResult, ConnectCheck, DecisionCounter, PublishCheck, SubscribeCheck } from '../contract/checks.js'
import type { ConnectionInfo, Session, SessionRegistry } from './session.js'
import { commandTopicVin } from '../contract/topics.js'
import { willOfEndedSession } from './end-session.js'
import { brokerIdOf, connackSent } from '../aedes/adapter.js'
import { ownerRecord, type ClientIdOwnerStore, type OwnerRecord } from '../sessions/index.js'
import { isStoreRefusal, type OutageAudit } from './outage.js'

export interface HookDeps {
  readonly policy: () => Policy
  readonly connection: (client: Client) => ConnectionInfo | undefined
  readonly sessions: SessionRegistry
  readonly log: AuditLogger
  readonly connectChecks: readonly ConnectCheck[]
  readonly publishChecks: readonly PublishCheck[]
  /** extra SUBSCRIBE checks, run per filter after the topic rules allowed it */
  readonly subscribeChecks?: readonly SubscribeCheck[]
  readonly keepaliveMaxSeconds: number
  /** false when a reload changed the trust bundle since this connection was described */
  readonly isCurrent?: (info: ConnectionInfo) => boolean
  /** the connection is decided: what the TLS layer learnt of it is no longer needed */
  readonly decided?: (client: Client) => void
  readonly decisions?: DecisionCounter
  /** who owns each clientId, cluster-wide (live and offline sessions) */
  readonly owners: ClientIdOwnerStore
  /** largest retained payload (--max-retained-size) */
  readonly maxRetainedSize: number
  /** refusals because the store cannot answer: audited once per outage (./outage.ts), not once per client */
  readonly outage?: OutageAudit
}

export interface FleetgateHooks {
  preConnect (client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void): void
  authenticate (client: Client, username: Readonly<string | undefined>, password: Readonly<Buffer | undefined>, done: (error: AuthenticateError | null, success: boolean | null) => void): void
  authorizePublish (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void
  authorizeSubscribe (client: Client, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void): void
  authorizeForward (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null
}

interface PendingWill { topic: string; retain: boolean; qos: number; size: number }

export class RefusalError extends Error implements AuthenticateError {
  /** CONNACK 5, not authorized */
  readonly returnCode = 5 as AuthErrorCode.NOT_AUTHORIZED
  constructor (readonly reason: Reason) { super('not authorized: ' + reason) }
}

/** The topic rules of one PUBLISH (or Will). Pure; no I/O. */
const ALLOWED: CheckResult<never> = Object.freeze({ ok: true })
const TOPIC_DENIED: CheckResult<PublishReason> = Object.freeze({ ok: false, reason: 'topic_denied' })
const RETAINED_COMMAND: CheckResult<PublishReason> = Object.freeze({ ok: false, reason: 'retained_command' })
const RETAIN_DENIED: CheckResult<PublishReason> = Object.freeze({ ok: false, reason: 'retain_denied', detail: 'not a retain topic of this role' })

export function checkPublishTopic (session: Session, topic: string, retain: boolean, size: number, maxRetainedSize: number): CheckResult<PublishReason> {
  if (!session.grant.canPublish(topic)) return TOPIC_DENIED
  if (!retain) return ALLOWED
  // A retained command would be replayed to the car at every subscribe.
  if (commandTopicVin(topic) !== null) return RETAINED_COMMAND
  // Retained messages outlive the client and go to every new subscriber: only the
  // role's exact retain topics, each bounded in size (security review 6).
  if (!session.grant.canRetain(topic)) return RETAIN_DENIED
  if (size > maxRetainedSize) return { ok: false, reason: 'retain_denied', detail: `retained payload of ${size} bytes, limit ${maxRetainedSize}` }
  return ALLOWED
}

/**
 * A live session: a class, so an idle connection holds its fields and no
 * closure scope (memory per idle connection). Its logger is made on first use:
 * most sessions never log after connect.allow.
 */
class LiveSession implements Session {
  #child: AuditLogger | undefined
  endedFor?: Session['endedFor']
  judgedAs?: string
  ownerToken?: string
  constructor (
    readonly parentLog: AuditLogger,
    readonly identity: Identity,
    public grant: Session['grant'],
    readonly remote: string | undefined,
    readonly clientId: string,
  ) {}

  get log (): AuditLogger {
    return (this.#child ??= this.parentLog.child({ conn: { fp: this.identity.fingerprint.slice(0, 16), clientId: clip(this.clientId) } }))
  }
}

/** Denied filters per connection before it is closed (too_many_denials): a client of the fleet is never denied one. */
export const MAX_SUBSCRIBE_DENIALS = 100
const DENIAL_SAMPLE = 3

/** One connection's denied SUBSCRIBE filters: this packet's (audited as one line) and the total. */
class DenialTally {
  packet = 0
  total = 0
  sample: string[] = []
  constructor (readonly log: AuditLogger) {}
}

/** Top level: the listener must not hold the authenticate scope. */
function forgetOnClose (sessions: SessionRegistry, owners: ClientIdOwnerStore, log: AuditLogger, client: Client, token: string): void {
  client.conn.on('close', () => { // fires once; no once-wrapper per session
    sessions.delete(client)
    // A clean session's clientId is free again; a persistent one stays owned while it is stored.
    owners.release(client.id, token, client.clean === false).catch((err: unknown) => {
      log.warn({ evt: 'owners.release_error', clientId: clip(client.id), err: String(err) }, 'clientId owner record not released')
    })
  })
}

function holderText (holder: OwnerRecord): string {
  const since = Number.isFinite(holder.at) && holder.at > 0 ? `, since ${new Date(holder.at).toISOString()}` : ''
  return `clientId owned by another identity (role ${clip(holder.role)}${since})`
}

export function createHooks (deps: HookDeps): FleetgateHooks {
  const { sessions, log } = deps
  const wills = new WeakMap<Client, PendingWill>()
  const persistentConnects = new WeakMap<Client, ConnectPacket>()
  const count = (evt: string, reason: string) => deps.decisions?.inc(evt, reason)

  // Aedes asks about each filter of a SUBSCRIBE in one synchronous loop: the
  // denials of one packet become one audit line (count and a sample), and a
  // connection past MAX_SUBSCRIBE_DENIALS denied filters is closed, so 1 MB of
  // denied filters cannot write 10 MB of audit log (security review 9).
  const denials = new WeakMap<Client, DenialTally>()
  function tallyDenial (client: Client, session: Session | undefined, filter: string): void {
    let d = denials.get(client)
    if (d === undefined) denials.set(client, (d = new DenialTally(session?.log ?? log)))
    d.packet++
    d.total++
    if (d.sample.length < DENIAL_SAMPLE) d.sample.push(clip(filter, 64)!)
    if (d.packet === 1) process.nextTick(flushDenials, client, d)
  }
  function flushDenials (client: Client, d: DenialTally): void {
    d.log.warn({ evt: 'subscribe.deny', reason: 'filter_denied', filter: d.sample[0], filters: d.packet, sample: d.sample, total: d.total }, 'subscribe refused')
    d.packet = 0
    d.sample = []
    // stored filters that a narrower policy now denies, at a session's restore, are not the client's doing
    if (d.total > MAX_SUBSCRIBE_DENIALS && !client.closed && connackSent(client)) {
      d.log.warn({ evt: 'subscribe.kick', reason: 'too_many_denials', total: d.total, max: MAX_SUBSCRIBE_DENIALS }, 'connection closed: too many denied subscriptions')
      count('subscribe.kick', 'too_many_denials')
      client.close()
    }
  }

  function deny (client: Client, info: ConnectionInfo | undefined, reason: ConnectReason, detail: string | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void) {
    // one store.outage line per outage (the first refusal); each client's at debug level
    const quiet = deps.outage !== undefined && isStoreRefusal(reason) && (deps.outage.refused(reason, detail), true)
    log[quiet ? 'debug' : 'warn']({
      evt: 'connect.deny', reason, detail, client: { id: clip(client.id), remote: info?.remote },
      ...(info?.resumed ? { tls: { resumed: true } } : {}),
      ...(info?.identity ? { cert: identityFields(info.identity) } : {}),
    }, 'connect refused')
    count('connect.deny', reason)
    done(new RefusalError(reason), false)
  }

  function refusePublish (session: Session, packet: PublishPacket, callback: (error?: Error | null) => void,
    reason: PublishReason, detail?: string, audit?: Readonly<Record<string, string>>): void {
    session.log.warn({ ...audit, evt: 'publish.deny', reason, detail, topic: clip(packet.topic), qos: packet.qos, retain: !!packet.retain }, 'publish refused')
    count('publish.deny', reason)
    callback(new Error(reason))
  }

  /**
   * The extra publish checks in order. A check that answers at once is not
   * awaited (the edge command check answers at once for every topic but a
   * command topic: telemetry pays no promise). An awaited check may finish after
   * fleetgate ended the session (revoked meanwhile): nothing is published then.
   */
  function runPublishChecks (client: Client, session: Session, packet: PublishPacket, callback: (error?: Error | null) => void, from: number, isWill: boolean): void {
    for (let i = from; i < deps.publishChecks.length; i++) {
      let r: ReturnType<PublishCheck>
      try { r = deps.publishChecks[i]!(session, packet) } catch (err) { return publishCheckFailed(session, callback, err) }
      if (typeof (r as Promise<unknown>).then === 'function') {
        ;(r as Promise<CheckResult<PublishReason>>).then((res) => {
          if (!res.ok) return refusePublish(session, packet, callback, res.reason, res.detail, res.audit)
          // A Will is asked about after Aedes closed the client: closed is no reason to drop it
          // (a check held it through a store stall); a session fleetgate ended loses it (endedFor).
          if (session.endedFor !== undefined || (client.closed && !isWill)) return callback(new Error('session ended'))
          runPublishChecks(client, session, packet, callback, i + 1, isWill)
        }, (err: unknown) => publishCheckFailed(session, callback, err))
        return
      }
      const res = r as CheckResult<PublishReason>
      if (!res.ok) return refusePublish(session, packet, callback, res.reason, res.detail, res.audit)
    }
    callback(null)
  }

  /** The extra subscribe checks for one filter the topic rules allowed, in order; a refusal is SUBACK 0x80 for that filter. */
  function runSubscribeChecks (client: Client, session: Session, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void, from: number): void {
    const checks = deps.subscribeChecks ?? []
    for (let i = from; i < checks.length; i++) {
      let r: ReturnType<SubscribeCheck>
      try { r = checks[i]!(session, sub.topic) } catch (err) { return subscribeCheckFailed(session, sub, callback, err) }
      if (typeof (r as Promise<unknown>).then === 'function') {
        ;(r as Promise<CheckResult<SubscribeReason>>).then((res) => {
          if (!res.ok) return refuseSubscribe(session, sub, callback, res.reason, res.detail, res.audit)
          if (session.endedFor !== undefined || client.closed) return callback(null, null)
          runSubscribeChecks(client, session, sub, callback, i + 1)
        }, (err: unknown) => subscribeCheckFailed(session, sub, callback, err))
        return
      }
      const res = r as CheckResult<SubscribeReason>
      if (!res.ok) return refuseSubscribe(session, sub, callback, res.reason, res.detail, res.audit)
    }
    callback(null, sub)
  }

  function refuseSubscribe (session: Session, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void,
    reason: SubscribeReason, detail?: string, audit?: Readonly<Record<string, string>>): void {
    session.log.warn({ ...audit, evt: 'subscribe.deny', reason, detail, filter: clip(sub.topic) }, 'subscribe refused')
    count('subscribe.deny', reason)
    callback(null, null)
  }

  // fail closed: a check that cannot answer denies the filter
  function subscribeCheckFailed (session: Session, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void, err: unknown): void {
    session.log.error({ evt: 'subscribe.error', err: String(err), filter: clip(sub.topic) }, 'subscribe check failed')
    callback(null, null)
  }

  function publishCheckFailed (session: Session, callback: (error?: Error | null) => void, err: unknown): void {
    session.log.error({ evt: 'publish.error', err: String(err) }, 'publish check failed')
    callback(new Error('publish check failed'))
  }

  return {
    preConnect: function fleetgatePreConnect (client, packet, callback) {
      // Aedes' authenticate does not see the CONNECT packet: keep the Will here.
      if (packet.will) wills.set(client, { topic: packet.will.topic, retain: !!packet.will.retain, qos: packet.will.qos ?? 0, size: packet.will.payload?.length ?? 0 })
      // a persistent CONNECT whose clientId is taken back from a covering identity is made clean (authenticate)
      if (!packet.clean) persistentConnects.set(client, packet)
      // Keepalive bound [MQTT-3.1.2-24]: 0 (none) or above the maximum is clamped,
      // so a silent client is dropped after 1.5 x the bound.
      if (!packet.keepalive || packet.keepalive > deps.keepaliveMaxSeconds) packet.keepalive = deps.keepaliveMaxSeconds
      callback(null, true)
    },

    authenticate: function fleetgateAuthenticate (client, _username, _password, done) {
      const info = deps.connection(client)
      // A refusal decided before MQTT (identity check, too_many_connections) comes first.
      if (info?.refusal) return deny(client, info, info.refusal.reason as ConnectReason, info.refusal.detail, done)
      if (!info || !info.identity) return deny(client, info, 'no_client_auth', 'no verified client certificate', done)
      const identity = info.identity
      const run = async (): Promise<CheckResult<ConnectReason> & { session?: Session }> => {
        // a check may admit under another role (a quarantined certificate: README "Certificate states")
        let judgeAs: string | undefined
        for (const check of deps.connectChecks) {
          const r = await check(identity)
          if (!r.ok) return r
          if (r.judgeAs !== undefined) judgeAs = r.judgeAs
        }
        const decision = deps.policy().resolve(identity, client.id, judgeAs)
        if (!decision.ok) return { ok: false, reason: decision.reason, detail: decision.detail }
        const session = new LiveSession(log, identity, decision.grant, info.remote, client.id)
        if (judgeAs !== undefined) session.judgedAs = judgeAs
        const will = wills.get(client)
        // A Will on a command topic is refused whoever may publish there: it would reach
        // a car's command channel later, past the signed-command check (a dead cluster
        // node's Will has no client and skips the publish checks) and long expired.
        if (will) {
          const willCheck = commandTopicVin(will.topic) !== null ? null : checkPublishTopic(session, will.topic, will.retain, will.size, deps.maxRetainedSize)
          if (willCheck === null || !willCheck.ok) return { ok: false, reason: 'will_denied', detail: `${clip(will.topic)}${willCheck && !willCheck.ok ? ': ' + willCheck.reason : ''}` }
        }
        return { ok: true, session }
      }
      run().then((r) => {
        // The socket may have died while we waited (Aedes' hook contract, ARCHITECTURE.md step 6).
        if (client.closed) return
        // A reload changed the trust bundle while we waited: decide again under it.
        if (deps.isCurrent && !deps.isCurrent(info)) return fleetgateAuthenticate(client, _username, _password, done)
        if (!r.ok) return deny(client, info, r.reason, r.detail, done)
        const session = r.session!
        // The clientId is claimed last, once every other check passed: a refused
        // client never writes a record. Another identity's record (a live session
        // on any node, or an offline persistent one) refuses this CONNECT before
        // Aedes restores or takes over anything. Same identity: a takeover, as ever.
        const record = ownerRecord(identity, session.grant.role, brokerIdOf(client))
        deps.owners.claim(client.id, record).then((claim) => {
          // never admitted: its record goes, whatever kind of session it asked for
          if (client.closed) { if (claim.ok) void deps.owners.release(client.id, record.token, false).catch(() => {}); return }
          if (!claim.ok) return deny(client, info, 'client_id_mismatch', holderText(claim.holder), done)
          if (claim.took !== undefined) {
            // The clientId is this identity's own name: an identity that only covered it (CN "ops"
            // holding "ops-eu") loses it, and what it stored there is not handed over.
            log.warn({ evt: 'owner.reclaim', clientId: clip(client.id), from: { role: clip(claim.took.role), fp: clip(claim.took.fp, 16) }, cert: identityFields(identity) }, 'clientId taken back by the identity it names')
            count('owner.reclaim', 'client_id_mismatch')
            const connect = persistentConnects.get(client)
            if (connect !== undefined) { connect.clean = true; client.clean = true }
          }
          persistentConnects.delete(client)
          session.ownerToken = record.token
          // the live session of this clientId on this node, if any: Aedes ends it when this one registers
          const held = sessions.byClientId(client.id)
          const heldSession = held !== undefined && held !== client ? sessions.get(held) : undefined
          if (heldSession !== undefined) {
            heldSession.log.info({ evt: 'session.takeover', reason: 'client_id_taken_over', by: { fp: identity.fingerprint.slice(0, 16), remote: info.remote } }, 'session taken over by a new connection of its identity')
            count('session.takeover', 'client_id_taken_over')
          }
          sessions.set(client, session)
          forgetOnClose(sessions, deps.owners, log, client, record.token)
          deps.decided?.(client)
          auditConnectAllow(log, { identity, clientId: client.id, role: session.grant.role, remote: info.remote, resumed: info.resumed === true })
          count('connect.allow', 'ok')
          done(null, true)
        }).catch((err: unknown) => {
          // the store failed, or the admission itself threw: refused (fail closed), never an unhandled rejection
          log.error({ evt: 'connect.error', err: String(err) }, 'clientId owner check failed')
          if (!client.closed && !sessions.get(client)) deny(client, info, 'session_store_unavailable', 'clientId owner store unreachable', done)
        })
      }).catch((err: unknown) => {
        log.error({ evt: 'connect.error', err: String(err) }, 'connect check failed')
        if (!client.closed && !sessions.get(client)) deny(client, info, 'revocation_unavailable', 'internal error', done)
      })
    },

    authorizePublish: function fleetgateAuthorizePublish (client, packet, callback) {
      // Wills that a dead cluster node left behind come with no client; they
      // were checked at their CONNECT (ARCHITECTURE.md step 7).
      if (client === null) return callback(null)
      const session = sessions.get(client)
      if (!session) return callback(new Error('no session'))
      // A session fleetgate ended itself (revoked, policy_changed) loses its Will.
      if (willOfEndedSession(client, session)) return callback(new Error('will dropped'))
      // The allowed path allocates nothing: it runs for every PUBLISH.
      const topicCheck = checkPublishTopic(session, packet.topic, !!packet.retain, packet.retain ? packet.payload.length : 0, deps.maxRetainedSize)
      if (!topicCheck.ok) return refusePublish(session, packet, callback, topicCheck.reason, topicCheck.detail)
      if (deps.publishChecks.length === 0) return callback(null)
      // Aedes marks a client closed before it asks about its Will (lib/client.js close)
      runPublishChecks(client, session, packet, callback, 0, client.closed)
    },

    authorizeSubscribe: function fleetgateAuthorizeSubscribe (client, sub, callback) {
      const session = sessions.get(client)
      if (session && session.grant.canSubscribe(sub.topic)) {
        if (deps.subscribeChecks === undefined || deps.subscribeChecks.length === 0) return callback(null, sub)
        return runSubscribeChecks(client, session, sub, callback, 0)
      }
      count('subscribe.deny', 'filter_denied')
      tallyDenial(client, session, sub.topic)
      callback(null, null)
    },

    authorizeForward: function fleetgateAuthorizeForward (client, packet) {
      // Aedes persists a SUBSCRIBE whole, denied filters included (ARCHITECTURE.md step 8):
      // every delivery is re-checked against this connection's compiled rules.
      const session = sessions.get(client)
      if (!session || session.endedFor !== undefined) return null
      return session.grant.canReceive(packet.topic) ? packet : null
    },
  }
}
