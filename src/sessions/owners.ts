// Who owns a clientId, cluster-wide (the sessions issue, item 1): the owner
// record of an identity, and the in-memory store, beside Aedes' embedded
// persistence. The port (ClientIdOwnerStore) and the claim rule every store
// shares are in src/stores/owners.ts; Redis is its own file.
import { randomUUID } from 'node:crypto'
import type { Identity } from '../identity/index.js'
import { claimOutcome, type ClaimResult, type ClientIdOwnerStore, type OwnerRecord } from '../stores/owners.js'

export { claimOutcome, type ClaimResult, type ClientIdOwnerStore, type OwnerRecord }

/**
 * The owner name of an identity: its trust anchor (a second trusted hierarchy's certificate
 * with the same CN is another identity) and its subject CN, else its whole subject.
 */
export function ownerName (identity: Identity): string {
  const anchor = identity.chain.at(-1)?.fingerprint ?? identity.issuerFingerprint ?? ''
  return `${anchor}/${identity.subject.CN?.[0] ?? JSON.stringify(identity.subject)}`
}

/**
 * randomUUID's text is a tree of 16 V8 cons strings (its parts concatenated) until
 * something flattens it: ~480 B kept per live session against ~60 B flat. toLowerCase
 * flattens it and, the text being lowercase already, returns the same text.
 */
const flatUuid = (): string => randomUUID().toLowerCase()

export function ownerRecord (identity: Identity, role: string, node: string, now = Date.now()): OwnerRecord {
  return { name: ownerName(identity), cn: identity.subject.CN?.[0] ?? '', fp: identity.fingerprint, role, node, token: flatUuid(), at: now }
}

/** The embedded store: a Map beside Aedes' in-memory sessions (they end with the process, so do these). */
export class MemoryClientIdOwners implements ClientIdOwnerStore {
  readonly kind = 'memory'
  readonly #held = new Map<string, OwnerRecord>()

  async claim (clientId: string, record: OwnerRecord): Promise<ClaimResult> {
    const outcome = claimOutcome(clientId, this.#held.get(clientId), record)
    if (outcome.ok) this.#held.set(clientId, record)
    return outcome
  }

  async release (clientId: string, token: string, persistent: boolean): Promise<void> {
    if (!persistent && this.#held.get(clientId)?.token === token) this.#held.delete(clientId)
  }

  async forget (clientId: string, claimedBefore = Infinity): Promise<void> {
    const held = this.#held.get(clientId)
    if (held !== undefined && held.at <= claimedBefore) this.#held.delete(clientId)
  }

  async holder (clientId: string): Promise<OwnerRecord | null> { return this.#held.get(clientId) ?? null }

  async close (): Promise<void> { this.#held.clear() }
}
