// Stores as ports: one interface per kind of state a fleetgate process keeps,
// the choice of implementation (open.ts) and what Redis links share (redis.ts).
// The implementations and each kind's factory map live beside the code that
// owns the state: src/revocation, src/sessions, src/provisioning.
export type {
  RevocationEntry, RevocationTarget, RevokedRecord, RevocationQuery, RevocationStatus, RevocationEvent, RevocationStore,
  CertState, StateEntry, StateRecord, StateChange, OperatorLogEntry, OperatorAct,
} from './revocations.js'
export type { RegistryRecord, RegistryEvent, FirstConnectEvent, DeviceRegistry } from './registry.js'
export { claimOutcome, type OwnerRecord, type ClaimResult, type ClientIdOwnerStore } from './owners.js'
export type { ProvisionerState, ProvisioningChannel, Claim, CountedClaim, Retirement } from './provisioner-state.js'
export { certificateStatus, type CertificateQuery, type CertificateStatus, type CertificateStatusSource, type StoreEvent } from './connect-status.js'
export {
  DEFAULT_PREFIX, backendOf, factoryOf, storeContext, openStore, openStores, closeStores,
  type StoreChoice, type StoreContext, type StoreFactory, type StoreFactories, type StoresOf, type OpenStoresOptions, type Closable,
} from './open.js'
export { bounded, StoreTimeoutError } from './bounded.js'
export type { TicketSecretStore } from './ticket-secrets.js'
export { DSYNC, durableAppendFlags } from './durable-append.js'
export { openRedisLink, redisClient, redisRetryDelay, redactUrl, refuseCluster, isSentinel, minReplicasOf, waitForReplicas, type RedisFlavour } from './redis.js'
