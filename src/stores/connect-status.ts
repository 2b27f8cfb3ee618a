// What the broker reads about a certificate at CONNECT, from two ports: is it
// (or a CA above it) revoked, and, for a vehicle, its registry record, read in
// parallel (one round trip of waiting); and the first connect of an `issued`
// certificate told to the registry. The revocation guard holds this view.
import type { RegistryEvent, DeviceRegistry, RegistryRecord } from './registry.js'
import type { RevocationEvent, RevocationQuery, RevocationStatus, RevocationStore } from './revocations.js'

export interface CertificateQuery extends RevocationQuery {
  /** a vehicle's VIN and leaf fingerprint: read its registry record in the same trip */
  readonly registry?: { readonly vin: string; readonly fingerprint: string }
}

export interface CertificateStatus extends RevocationStatus {
  /** registry record of the leaf, when asked and present */
  readonly registry: RegistryRecord | null
}

/** the events a listener of either store may get */
export type StoreEvent = RevocationEvent | RegistryEvent

export interface CertificateStatusSource {
  /** the revocation store's health: a clean answer from a cache stands in for a lookup only while it is healthy */
  healthy (): boolean
  /** rejects when either store cannot answer (the connect check fails closed) */
  status (query: CertificateQuery): Promise<CertificateStatus>
  /** issued -> active and announce first_connect; false without a registry */
  markActive (vin: string, fingerprint: string): Promise<boolean>
  /** the revocation store's events */
  watch (onEvent: (event: StoreEvent) => void): Promise<void>
}

export function certificateStatus (revocations: RevocationStore, registry?: DeviceRegistry): CertificateStatusSource {
  return {
    healthy: () => revocations.healthy(),
    async status (query) {
      const { targets, fresh, identity } = query
      const reg = query.registry
      const [status, record] = await Promise.all([
        revocations.status({ targets, ...(fresh !== undefined ? { fresh } : {}), ...(identity !== undefined ? { identity } : {}) }),
        reg !== undefined && registry !== undefined ? registry.record(reg.vin, reg.fingerprint, fresh) : null,
      ])
      return { revoked: status.revoked, state: status.state ?? null, registry: record }
    },
    markActive: async (vin, fingerprint) => registry !== undefined && await registry.markActive(vin, fingerprint),
    watch: (onEvent) => revocations.watch(onEvent),
  }
}
