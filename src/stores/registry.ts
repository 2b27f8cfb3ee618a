// The device registry port: the provisioner's record of every certificate it
// issued, per VIN (`<prefix>certs:<VIN>` in Redis, README "Redis schema"). The
// provisioner writes it; the broker reads a vehicle's record at CONNECT, beside
// the revocation lookup, and marks an `issued` certificate `active` on its first
// connect, which the provisioner hears (first_connect) to retire the older ones.
// Implementations: the embedded file, shared with the revocation store
// (src/revocation/registry-file.ts), and Redis (src/revocation/registry-redis.ts).

export interface RegistryRecord {
  readonly serial: string
  readonly notAfter: string
  readonly issuedAt: string
  readonly state: 'issued' | 'active' | 'superseded' | 'revoked'
  /** the provisioning request's nonce it was issued for (absent in records written before it was kept) */
  readonly nonce?: string
}

/** a certificate the registry had as `issued` connected for the first time */
export interface FirstConnectEvent { readonly kind: 'first_connect'; readonly vin: string; readonly fingerprint: string }

export type RegistryEvent = FirstConnectEvent

export interface DeviceRegistry {
  /** 'file', 'redis', or what a user's store calls itself */
  readonly kind: string
  /** every certificate issued for the VIN, by fingerprint */
  get (vin: string): Promise<Record<string, RegistryRecord>>
  /**
   * One certificate's record (the connect check's read); `fresh`: from the store
   * itself, not from what change events reported so far. Rejects when the store
   * cannot answer (bounded by its timeout).
   */
  record (vin: string, fingerprint: string, fresh?: boolean): Promise<RegistryRecord | null>
  set (vin: string, fingerprint: string, record: RegistryRecord): Promise<void>
  /** mark `issued` -> `active` if it is `issued`, and announce first_connect, in one step; true when it changed */
  markActive (vin: string, fingerprint: string): Promise<boolean>
  /** receive first_connect events */
  watch (onEvent: (event: RegistryEvent) => void): Promise<void>
  close (): Promise<void>
}
