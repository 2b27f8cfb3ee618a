// Per-connection state, set in authenticate and read by every later hook.
import type { Client } from 'aedes'
import type { Identity } from '../identity/index.js'
import type { Grant } from '../policy/index.js'
import type { AuditLogger } from '../audit/index.js'
import type { Reason } from '../reasons.js'

export interface Session {
  readonly identity: Identity
  grant: Grant
  readonly log: AuditLogger
  readonly remote: string | undefined
  /** set when fleetgate closes the session itself (revoked, policy_changed): its Will is dropped */
  endedFor?: Reason
}

/** What the TLS layer learnt about a connection, keyed by the stream handed to broker.handle. */
export interface ConnectionInfo {
  readonly identity: Identity | null
  readonly remote: string | undefined
  /** a refusal decided before MQTT (identity check), reported at CONNECT */
  readonly refusal?: { reason: Reason; detail?: string }
  /** the trust bundle generation this was decided under: a reload in between means deciding again */
  readonly generation?: number
}

export class SessionRegistry {
  readonly #byClient = new WeakMap<Client, Session>()
  /** one Client, or a Set when a certificate holds several sessions (rare: no Set per connection) */
  readonly #byFingerprint = new Map<string, Client | Set<Client>>()
  readonly #live = new Set<Client>()

  set (client: Client, session: Session): void {
    this.#byClient.set(client, session)
    this.#live.add(client)
    const fp = session.identity.fingerprint
    const held = this.#byFingerprint.get(fp)
    if (held === undefined) this.#byFingerprint.set(fp, client)
    else if (held instanceof Set) held.add(client)
    else if (held !== client) this.#byFingerprint.set(fp, new Set([held, client]))
  }

  get (client: Client | null | undefined): Session | undefined {
    return client ? this.#byClient.get(client) : undefined
  }

  delete (client: Client): void {
    const session = this.#byClient.get(client)
    this.#live.delete(client)
    if (!session) return
    const fp = session.identity.fingerprint
    const held = this.#byFingerprint.get(fp)
    if (held === client) this.#byFingerprint.delete(fp)
    else if (held instanceof Set) {
      held.delete(client)
      if (held.size === 1) this.#byFingerprint.set(fp, held.values().next().value!)
      else if (held.size === 0) this.#byFingerprint.delete(fp)
    }
  }

  byFingerprint (fp: string): readonly Client[] {
    const held = this.#byFingerprint.get(fp)
    return held === undefined ? [] : held instanceof Set ? [...held] : [held]
  }

  live (): readonly Client[] { return [...this.#live] }
  get size (): number { return this.#live.size }
}
