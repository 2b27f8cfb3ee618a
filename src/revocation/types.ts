// The revocation store contract (DESIGN "Redis revocation schema"). Two
// implementations: Redis (production, cluster) and the embedded file store.

/** value of a revocation field: JSON {"reason":"keyCompromise","revokedAt":"<ISO 8601>"} */
export interface RevocationEntry {
  readonly reason: string
  readonly revokedAt: string
}

/** by certificate fingerprint, or by issuer fingerprint + serial (lowercase hex, no leading zeros) */
export type RevocationTarget =
  | { readonly fingerprint: string }
  | { readonly issuer: string; readonly serial: string }

export type RevokedRecord = RevocationTarget & RevocationEntry

/** registry value of `<prefix>certs:<VIN>` (the provisioner's record of what it issued) */
export interface RegistryRecord {
  readonly serial: string
  readonly notAfter: string
  readonly issuedAt: string
  readonly state: 'issued' | 'active' | 'superseded' | 'revoked'
  /** the provisioning request's nonce it was issued for (absent in records written before it was kept) */
  readonly nonce?: string
}

/** What the broker asks at CONNECT, in one round trip. */
export interface CertificateQuery {
  /** the leaf and every CA above it, by fingerprint and by issuer + serial */
  readonly targets: readonly RevocationTarget[]
  /** a vehicle's VIN and leaf fingerprint: read its registry state in the same trip */
  readonly registry?: { readonly vin: string; readonly fingerprint: string }
  /**
   * Answer from the store itself, not from what change events reported so far
   * (the embedded store reads its file first). For decisions that cannot be
   * undone later, such as forwarding a signed command.
   */
  readonly fresh?: boolean
}

export interface CertificateStatus {
  /** the first target found revoked, or null */
  readonly revoked: RevokedRecord | null
  /** registry record of the leaf, when asked and present */
  readonly registry: RegistryRecord | null
}

/** an event from the store: a revocation, a registry event, or "re-check everything" */
export type StoreEvent =
  | { readonly kind: 'revoked'; readonly target: RevocationTarget }
  | { readonly kind: 'first_connect'; readonly vin: string; readonly fingerprint: string }
  | { readonly kind: 'resync' }

export interface RevocationStore {
  readonly kind: 'redis' | 'file'
  /** true while the store answers and its events flow (Redis: both links up); a clean
   * answer from the cache stands in for a lookup only then */
  healthy (): boolean
  /** one round trip; rejects (bounded by the store's timeout) when the store cannot answer */
  status (query: CertificateQuery): Promise<CertificateStatus>
  /** write the revocation(s), then announce each (PUBLISH <prefix>revocations) */
  revoke (targets: readonly RevocationTarget[], entry: RevocationEntry, onProgress?: (done: number, total: number) => void): Promise<number>
  /** the same with a reason and date per record (CRL import); pipelined in batches */
  revokeMany (records: readonly RevokedRecord[], onProgress?: (done: number, total: number) => void): Promise<number>
  list (): Promise<RevokedRecord[]>
  /** registry (certs:<VIN>) */
  registryGet (vin: string): Promise<Record<string, RegistryRecord>>
  registrySet (vin: string, fingerprint: string, record: RegistryRecord): Promise<void>
  /** mark `issued` -> `active` if it is `issued`, and announce first_connect; true when it changed */
  markActive (vin: string, fingerprint: string): Promise<boolean>
  /** receive events; the store emits `resync` after a reconnect */
  watch (onEvent: (event: StoreEvent) => void): Promise<void>
  close (): Promise<void>
}
