// The revocation types are ports now: src/stores/revocations.ts (the revocation
// store) and src/stores/registry.ts (the device registry). The revocation guard
// (guard.ts) reads both through one view, CertificateStatusSource
// (src/stores/connect-status.ts), which this file still calls RevocationStore for
// the guard until it moves to src/checks and imports the view by its own name.
// Everything else imports the port RevocationStore from src/stores.
export type {
  RevocationEntry, RevocationTarget, RevokedRecord, RevocationQuery, RevocationStatus, RevocationEvent,
} from '../stores/revocations.js'
export type { RegistryRecord, RegistryEvent } from '../stores/registry.js'
export type { CertificateQuery, CertificateStatus, StoreEvent, CertificateStatusSource as RevocationStore } from '../stores/connect-status.js'
