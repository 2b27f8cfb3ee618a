// The clientId owner port: who owns a clientId, cluster-wide. The identity that
// created a session owns its clientId while the session lives, online or
// offline: another identity is refused at CONNECT on every node, before Aedes
// restores (or takes over) anything. The record sits in the store that holds the
// sessions: in memory beside Aedes' embedded persistence
// (src/sessions/owners.ts), in Redis beside aedes-persistence-redis
// (src/sessions/redis-owners.ts).

/** One session's claim on its clientId. JSON in Redis: a public contract (README "Redis schema"). */
export interface OwnerRecord {
  /**
   * who the identity is: its trust anchor's fingerprint and its subject CN (a car's VIN, a
   * backend's service name), `<root fp>/<CN>`; same name = same identity (a car's birth and
   * operational certificates, a rotated one)
   */
  readonly name: string
  /** the subject CN alone: an identity whose CN is the clientId itself comes before one that only covers it */
  readonly cn: string
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

export type ClaimResult =
  | { readonly ok: true; /** the record of another identity this claim replaced (its CN only covered the clientId) */ readonly took?: OwnerRecord }
  | { readonly ok: false; readonly holder: OwnerRecord }

/**
 * The rule of a claim, shared by every store: free, or held by the same identity, or
 * held by one whose CN only covers the clientId (`ops` holding `ops-eu`) when the
 * claimant's CN is the clientId itself (`ops-eu`): the clientId is first of all its own.
 */
export function claimOutcome (clientId: string, held: OwnerRecord | undefined, record: OwnerRecord): ClaimResult {
  if (held === undefined || held.name === record.name) return { ok: true }
  if (record.cn === clientId && held.cn !== clientId) return { ok: true, took: held }
  return { ok: false, holder: held }
}

/**
 * The store port. claim: atomic check-and-set (claimOutcome). release: the
 * connection ended; a clean session's record goes, a persistent one's stays
 * while its session is stored. forget: the session itself is gone (expired:
 * --session-expiry). No record expires on its own: one that lapsed before its
 * session would hand the session to another identity.
 */
export interface ClientIdOwnerStore {
  readonly kind: string
  claim (clientId: string, record: OwnerRecord): Promise<ClaimResult>
  release (clientId: string, token: string, persistent: boolean): Promise<void>
  /** the session expired: drop the record unless it was claimed after `claimedBefore` (ms; the owner is back) */
  forget (clientId: string, claimedBefore?: number): Promise<void>
  /** the record, for tests and operators (null: free) */
  holder (clientId: string): Promise<OwnerRecord | null>
  close (): Promise<void>
}
