// fleetgate's Aedes hooks. Each hook's refusal reaches the client the way Aedes
// gives it (STYLE.md §1): authenticate -> CONNACK 5 then close; authorizePublish
// -> close [MQTT-3.3.5-2]; authorizeSubscribe -> SUBACK 0x80 for that filter;
// authorizeForward -> the delivery is dropped.
import type { Client, AedesPublishPacket, ConnectPacket, PublishPacket, Subscription, AuthenticateError } from 'aedes'
import type { Identity } from '../identity/index.js'
import type { Policy } from '../policy/index.js'
import type { AuditLogger } from '../audit/index.js'
import { identityFields, clip } from '../audit/index.js'
import type { ConnectReason, PublishReason, Reason } from '../reasons.js'
import type { ConnectionInfo, Session, SessionRegistry } from './session.js'
import { commandTopicVin } from './topics.js'
import { willOfEndedSession } from './end-session.js'

/** audit: extra fields for the audit line (e.g. the edge's commandReason, jti); never a payload */
type Refusal<R extends Reason> = { ok: false; reason: R; detail?: string; audit?: Readonly<Record<string, string>> }
export type CheckResult<R extends Reason> = { ok: true } | Refusal<R>

/** An asynchronous connect-time check (revocation, ...) run after identity and before policy. */
export type ConnectCheck = (identity: Identity) => Promise<CheckResult<ConnectReason>>
/** An extra PUBLISH check (signed-command edge enforcement) run after the topic rules. */
export type PublishCheck = (session: Session, packet: PublishPacket) => Promise<CheckResult<PublishReason>> | CheckResult<PublishReason>

export interface DecisionCounter {
  inc (evt: string, reason: string): void
  /** count n at once (dropped PUBLISHes); absent: inc n times */
  add? (evt: string, reason: string, n: number): void
}

export interface HookDeps {
  readonly policy: () => Policy
  readonly connection: (client: Client) => ConnectionInfo | undefined
  readonly sessions: SessionRegistry
  readonly log: AuditLogger
  readonly connectChecks: readonly ConnectCheck[]
  readonly publishChecks: readonly PublishCheck[]
  readonly keepaliveMaxSeconds: number
  /** false when a reload changed the trust bundle since this connection was described */
  readonly isCurrent?: (info: ConnectionInfo) => boolean
  /** the connection is decided: what the TLS layer learnt of it is no longer needed */
  readonly decided?: (client: Client) => void
  readonly decisions?: DecisionCounter
}

export interface FleetgateHooks {
  preConnect (client: Client, packet: ConnectPacket, callback: (error: Error | null, success: boolean) => void): void
  authenticate (client: Client, username: Readonly<string | undefined>, password: Readonly<Buffer | undefined>, done: (error: AuthenticateError | null, success: boolean | null) => void): void
  authorizePublish (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void
  authorizeSubscribe (client: Client, sub: Subscription, callback: (error: Error | null, subscription?: Subscription | null) => void): void
  authorizeForward (client: Client, packet: AedesPublishPacket): AedesPublishPacket | null
}

interface PendingWill { topic: string; retain: boolean; qos: number }

export class RefusalError extends Error {
  readonly returnCode = 5
  constructor (readonly reason: Reason) { super('not authorized: ' + reason) }
}

/** The topic rules of one PUBLISH (or Will). Pure; no I/O. */
const ALLOWED: CheckResult<never> = Object.freeze({ ok: true })
const TOPIC_DENIED: CheckResult<PublishReason> = Object.freeze({ ok: false, reason: 'topic_denied' })
const RETAINED_COMMAND: CheckResult<PublishReason> = Object.freeze({ ok: false, reason: 'retained_command' })

export function checkPublishTopic (session: Session, topic: string, retain: boolean): CheckResult<PublishReason> {
  if (!session.grant.canPublish(topic)) return TOPIC_DENIED
  // A retained command would be replayed to the car at every subscribe.
  if (retain && commandTopicVin(topic) !== null) return RETAINED_COMMAND
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

/** Top level: the listener must not hold the authenticate scope. */
function forgetOnClose (sessions: SessionRegistry, client: Client): void {
  client.conn.on('close', () => sessions.delete(client)) // fires once; no once-wrapper per session
}

export function createHooks (deps: HookDeps): FleetgateHooks {
  const { sessions, log } = deps
  const wills = new WeakMap<Client, PendingWill>()
  const count = (evt: string, reason: string) => deps.decisions?.inc(evt, reason)

  function deny (client: Client, info: ConnectionInfo | undefined, reason: ConnectReason, detail: string | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void) {
    log.warn({
      evt: 'connect.deny', reason, detail, client: { id: clip(client.id), remote: info?.remote },
      ...(info?.identity ? { cert: identityFields(info.identity) } : {}),
    }, 'connect refused')
    count('connect.deny', reason)
    done(new RefusalError(reason) as unknown as AuthenticateError, false)
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
  function runPublishChecks (client: Client, session: Session, packet: PublishPacket, callback: (error?: Error | null) => void, from: number): void {
    for (let i = from; i < deps.publishChecks.length; i++) {
      let r: ReturnType<PublishCheck>
      try { r = deps.publishChecks[i]!(session, packet) } catch (err) { return publishCheckFailed(session, callback, err) }
      if (typeof (r as Promise<unknown>).then === 'function') {
        ;(r as Promise<CheckResult<PublishReason>>).then((res) => {
          if (!res.ok) return refusePublish(session, packet, callback, res.reason, res.detail, res.audit)
          if (session.endedFor !== undefined || client.closed) return callback(new Error('session ended'))
          runPublishChecks(client, session, packet, callback, i + 1)
        }, (err: unknown) => publishCheckFailed(session, callback, err))
        return
      }
      const res = r as CheckResult<PublishReason>
      if (!res.ok) return refusePublish(session, packet, callback, res.reason, res.detail, res.audit)
    }
    callback(null)
  }

  function publishCheckFailed (session: Session, callback: (error?: Error | null) => void, err: unknown): void {
    session.log.error({ evt: 'publish.error', err: String(err) }, 'publish check failed')
    callback(new Error('publish check failed'))
  }

  return {
    preConnect: function fleetgatePreConnect (client, packet, callback) {
      // Aedes' authenticate does not see the CONNECT packet: keep the Will here.
      if (packet.will) wills.set(client, { topic: packet.will.topic, retain: !!packet.will.retain, qos: packet.will.qos ?? 0 })
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
        for (const check of deps.connectChecks) {
          const r = await check(identity)
          if (!r.ok) return r
        }
        const decision = deps.policy().resolve(identity, client.id)
        if (!decision.ok) return { ok: false, reason: decision.reason, detail: decision.detail }
        const session = new LiveSession(log, identity, decision.grant, info.remote, client.id)
        const will = wills.get(client)
        // A Will on a command topic is refused whoever may publish there: it would reach
        // a car's command channel later, past the signed-command check (a dead cluster
        // node's Will has no client and skips the publish checks) and long expired.
        if (will && (!checkPublishTopic(session, will.topic, will.retain).ok || commandTopicVin(will.topic) !== null)) {
          return { ok: false, reason: 'will_denied', detail: clip(will.topic) }
        }
        return { ok: true, session }
      }
      run().then((r) => {
        // The socket may have died while we waited (STYLE.md §1).
        if (client.closed) return
        // A reload changed the trust bundle while we waited: decide again under it.
        if (deps.isCurrent && !deps.isCurrent(info)) return fleetgateAuthenticate(client, _username, _password, done)
        if (!r.ok) return deny(client, info, r.reason, r.detail, done)
        // Taking over a live session needs the same subject CN (a car reconnecting, or
        // back with its rotated certificate). A clientId template's '-suffix' would
        // otherwise let CN "ops" connect as "ops-eu-1", the session of CN "ops-eu".
        const holder = (client as unknown as { broker: { clients: Record<string, Client | undefined> } }).broker.clients[client.id]
        const held = holder !== undefined && holder !== client ? sessions.get(holder) : undefined
        if (held !== undefined && held.identity.subject.CN?.[0] !== identity.subject.CN?.[0]) {
          return deny(client, info, 'client_id_mismatch', 'clientId held by a session of another certificate subject', done)
        }
        sessions.set(client, r.session!)
        forgetOnClose(sessions, client)
        deps.decided?.(client)
        log.info({ evt: 'connect.allow', conn: { fp: identity.fingerprint.slice(0, 16), clientId: clip(client.id) }, role: r.session!.grant.role, cert: identityFields(identity), remote: info.remote }, 'connect allowed')
        count('connect.allow', 'ok')
        done(null, true)
      }, (err: unknown) => {
        log.error({ evt: 'connect.error', err: String(err) }, 'connect check failed')
        if (!client.closed) deny(client, info, 'revocation_unavailable', 'internal error', done)
      })
    },

    authorizePublish: function fleetgateAuthorizePublish (client, packet, callback) {
      // Wills that a dead cluster node left behind come with no client; they
      // were checked at their CONNECT (DESIGN step 6).
      if (client === null) return callback(null)
      const session = sessions.get(client)
      if (!session) return callback(new Error('no session'))
      // A session fleetgate ended itself (revoked, policy_changed) loses its Will.
      if (willOfEndedSession(client, session)) return callback(new Error('will dropped'))
      // The allowed path allocates nothing: it runs for every PUBLISH.
      const topicCheck = checkPublishTopic(session, packet.topic, !!packet.retain)
      if (!topicCheck.ok) return refusePublish(session, packet, callback, topicCheck.reason)
      if (deps.publishChecks.length === 0) return callback(null)
      runPublishChecks(client, session, packet, callback, 0)
    },

    authorizeSubscribe: function fleetgateAuthorizeSubscribe (client, sub, callback) {
      const session = sessions.get(client)
      if (session && session.grant.canSubscribe(sub.topic)) return callback(null, sub)
      ;(session?.log ?? log).warn({ evt: 'subscribe.deny', reason: 'filter_denied', filter: clip(sub.topic) }, 'subscribe refused')
      count('subscribe.deny', 'filter_denied')
      callback(null, null)
    },

    authorizeForward: function fleetgateAuthorizeForward (client, packet) {
      // Aedes persists a SUBSCRIBE whole, denied filters included (DESIGN step 7):
      // every delivery is re-checked against this connection's compiled rules.
      const session = sessions.get(client)
      if (!session || session.endedFor !== undefined) return null
      return session.grant.canReceive(packet.topic) ? packet : null
    },
  }
}
