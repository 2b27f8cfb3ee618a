// The revocation store port: which certificates (and CAs) are revoked, written by
// `fleetgate revoke`, CRL imports and the provisioner, read by the broker at
// CONNECT and watched for live enforcement. Implementations: the embedded file
// (src/revocation/file-store.ts) and Redis (src/revocation/redis-store.ts), whose
// key schema is a public contract (README "Redis schema"); a library user may
// pass their own object (createFleetgate's parts.stores.revocations).
// Revocation sources (a CRL fetched from a URL, an OCSP responder) are read-only
// stores behind the same port, composed with the store: revoked by any is revoked.
import type { Identity } from '../contract/identity.js'

/** value of a revocation field: JSON {"reason":"keyCompromise","revokedAt":"<ISO 8601>"} */
export interface RevocationEntry {
  readonly reason: string
  readonly revokedAt: string
  /** who revoked it, for the operator log (README "Operator log"); not part of the stored value */
  readonly by?: string
  /** free text for the operator log */
  readonly note?: string
}

/** who made a bulk change (a CRL import), for the operator log */
export interface OperatorAct {
  readonly by: string
  readonly note?: string
}

/** A certificate's reversible state (README "Certificate states"); `revoked` is final and kept apart, as revocations. */
export type CertState = 'active' | 'inactive' | 'quarantined'

/** value of a state field: JSON {"state":"inactive","at":"<ISO 8601>","by":"..","reason":".."}; `active` is no field */
export interface StateEntry {
  readonly state: Exclude<CertState, 'active'>
  readonly at: string
  readonly by: string
  readonly reason: string
}

export type StateRecord = RevocationTarget & StateEntry

/** one state change, as the library and the CLI make it */
export interface StateChange {
  readonly state: CertState
  /** who made it (the operator's name) */
  readonly by: string
  readonly reason: string
  readonly note?: string
  readonly at: string
}

/** one entry of the append-only operator log: a revocation or a state change */
export interface OperatorLogEntry {
  readonly action: 'revoke' | 'deactivate' | 'quarantine' | 'activate'
  readonly target: RevocationTarget
  readonly by: string
  readonly at: string
  readonly reason: string
  readonly note: string
}

/** by certificate fingerprint, or by issuer fingerprint + serial (lowercase hex, no leading zeros) */
export type RevocationTarget =
  | { readonly fingerprint: string }
  | { readonly issuer: string; readonly serial: string }

export type RevokedRecord = RevocationTarget & RevocationEntry

export interface RevocationQuery {
  /** the leaf and every CA above it, by fingerprint and by issuer + serial */
  readonly targets: readonly RevocationTarget[]
  /**
   * Answer from the store itself, not from what change events reported so far
   * (the embedded store reads its file first). For decisions that cannot be
   * undone later, such as forwarding a signed command.
   */
  readonly fresh?: boolean
  /**
   * The connection's identity the targets were taken from, when there is one: a
   * source that asks about a certificate rather than looking targets up (OCSP)
   * reads its serial, issuing CA and AIA here. Absent for a command signer.
   */
  readonly identity?: Identity
}

export interface RevocationStatus {
  /** the first target found revoked, or null */
  readonly revoked: RevokedRecord | null
  /** the first target found inactive or quarantined (absent: the store keeps no states, all active) */
  readonly state?: StateRecord | null
}

/** an event from the store: a revocation, or "re-check everything" (after a reconnect, an unreadable record) */
export type RevocationEvent =
  | { readonly kind: 'revoked'; readonly target: RevocationTarget }
  | { readonly kind: 'resync' }
  /** a target's state changed (any way): the listener reads it again */
  | { readonly kind: 'state'; readonly target: RevocationTarget }

export interface RevocationStore {
  /** 'file', 'redis', or what a user's store calls itself */
  readonly kind: string
  /** true while the store answers and its events flow (Redis: both links up); a clean
   * answer from the cache stands in for a lookup only then */
  healthy (): boolean
  /** one round trip; rejects (bounded by the store's timeout) when the store cannot answer */
  status (query: RevocationQuery): Promise<RevocationStatus>
  /** write the revocation(s), then announce each (Redis: PUBLISH <prefix>revocations) */
  revoke (targets: readonly RevocationTarget[], entry: RevocationEntry, onProgress?: (done: number, total: number) => void): Promise<number>
  /**
   * The same with a reason and date per record (CRL import), written in batches.
   * A record already stored with the same reason and date is left alone (not
   * written, announced or logged again: a daily re-import adds nothing); each
   * new or changed one gets an operator log entry naming `by.by` (empty when absent).
   * Resolves to the number of records written (new or changed).
   */
  revokeMany (records: readonly RevokedRecord[], onProgress?: (done: number, total: number) => void, by?: OperatorAct): Promise<number>
  list (): Promise<RevokedRecord[]>
  /** set the targets' state (absent on read-only sources): written, logged, then announced like a revocation */
  setState? (targets: readonly RevocationTarget[], change: StateChange): Promise<number>
  /** the operator log's entries naming this fingerprint or this serial (any issuer), oldest first */
  history? (match: { readonly fingerprint?: string; readonly serial?: string }): Promise<OperatorLogEntry[]>
  /** receive events; the store emits `resync` after a reconnect */
  watch (onEvent: (event: RevocationEvent) => void): Promise<void>
  close (): Promise<void>
}
