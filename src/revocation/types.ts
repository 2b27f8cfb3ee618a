// The revocation types are ports in src/stores: revocations.ts (the revocation
// store), registry.ts (the device registry) and connect-status.ts (both as the
// connect check reads them). Re-exported here for the modules that import them
// from src/revocation.
export type {
  RevocationEntry, RevocationTarget, RevokedRecord, RevocationQuery, RevocationStatus, RevocationEvent, RevocationStore,
  CertState, StateEntry, StateRecord, StateChange, OperatorLogEntry, OperatorAct,
} from '../stores/revocations.js'
export type { RegistryRecord, RegistryEvent, DeviceRegistry } from '../stores/registry.js'
export type { CertificateQuery, CertificateStatus, CertificateStatusSource, StoreEvent } from '../stores/connect-status.js'
