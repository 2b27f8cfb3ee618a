// Who owns a clientId, cluster-wide (the sessions issue, item 1). The identity
// that created a session owns its clientId while the session lives, online or
// offline: another identity is refused at CONNECT on every node, before Aedes
// restores (or takes over) anything. The record sits in the store that holds the
// sessions: in memory beside Aedes' embedded persistence, in Redis beside
// aedes-persistence-redis. Pure port + the in-memory store; Redis is its own file.
import { randomUUID } from 'node:crypto'
import type { Identity } from '../identity/index.js'

/** One session's claim on its clientId. JSON in Redis: a public contract (README "Redis schema"). */
export interface OwnerRecord {
  /** who the identity is: the subject CN (a car's VIN, a backend's service name); same name = same identity */
  readonly name: string
  /** leaf fingerprint of the certificate the session was made with (audit) */
  readonly fp: string
  /** the policy role it was granted (audit) */
  readonly role: string
  /** node (Aedes broker id) holding the session while it is live */
  readonly node: string
  /** one per connection: only the connection that wrote the record may release it */
  readonly token: string
  /** ms since the epoch */
  readonly at: number
}

export type ClaimResult = { readonly ok: true } | { readonly ok: false; readonly holder: OwnerRecord }

/**
 * The store port. claim: atomic check-and-set (free, or held by the same name).
 * release: the connection ended; a clean session's record goes, a persistent
 * one's stays while its session is stored. forget: the session itself is gone
 * (expired: --session-expiry). No record expires on its own: one that lapsed
 * before its session would hand the session to another identity.
 */
export interface ClientIdOwnerStore {
  readonly kind: string
  claim (clientId: string, record: OwnerRecord): Promise<ClaimResult>
  release (clientId: string, token: string, persistent: boolean): Promise<void>
  forget (clientId: string): Promise<void>
  /** the record, for tests and operators (null: free) */
  holder (clientId: string): Promise<OwnerRecord | null>
  close (): Promise<void>
}

/** The owner name of an identity: its subject CN, else its whole subject (a role matched without CN). */
export function ownerName (identity: Identity): string {
  return identity.subject.CN?.[0] ?? JSON.stringify(identity.subject)
}

export function ownerRecord (identity: Identity, role: string, node: string, now = Date.now()): OwnerRecord {
  return { name: ownerName(identity), fp: identity.fingerprint, role, node, token: randomUUID(), at: now }
}

/** The embedded store: a Map beside Aedes' in-memory sessions (they end with the process, so do these). */
export class MemoryClientIdOwners implements ClientIdOwnerStore {
  readonly kind = 'memory'
  readonly #held = new Map<string, OwnerRecord>()

  async claim (clientId: string, record: OwnerRecord): Promise<ClaimResult> {
    const held = this.#held.get(clientId)
    if (held !== undefined && held.name !== record.name) return { ok: false, holder: held }
    this.#held.set(clientId, record)
    return { ok: true }
  }

  async release (clientId: string, token: string, persistent: boolean): Promise<void> {
    if (!persistent && this.#held.get(clientId)?.token === token) this.#held.delete(clientId)
  }

  async forget (clientId: string): Promise<void> { this.#held.delete(clientId) }

  async holder (clientId: string): Promise<OwnerRecord | null> { return this.#held.get(clientId) ?? null }

  async close (): Promise<void> { this.#held.clear() }
}
