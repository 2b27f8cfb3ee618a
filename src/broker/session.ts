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
  readonly #byFingerprint = new Map<string, Set<Client>>()
  readonly #live = new Set<Client>()

  set (client: Client, session: Session): void {
    this.#byClient.set(client, session)
    this.#live.add(client)
    let set = this.#byFingerprint.get(session.identity.fingerprint)
    if (!set) this.#byFingerprint.set(session.identity.fingerprint, (set = new Set()))
    set.add(client)
  }

  get (client: Client | null | undefined): Session | undefined {
    return client ? this.#byClient.get(client) : undefined
  }

  delete (client: Client): void {
    const session = this.#byClient.get(client)
    this.#live.delete(client)
    if (!session) return
    const set = this.#byFingerprint.get(session.identity.fingerprint)
    if (set) { set.delete(client); if (set.size === 0) this.#byFingerprint.delete(session.identity.fingerprint) }
  }

  byFingerprint (fp: string): readonly Client[] { return [...(this.#byFingerprint.get(fp) ?? [])] }
  live (): readonly Client[] { return [...this.#live] }
  get size (): number { return this.#live.size }
}
