// Sessions as fleetgate composes them with Aedes: who owns each clientId
// (owners; the port is src/stores/owners.ts), complete ordered delivery of
// persistent queues, their bound and expiry (session-store), the bound on stored
// unreleased QoS 2 packets, and the factory maps of the session side (stores).
export { MemoryClientIdOwners, ownerName, ownerRecord, claimOutcome, type ClaimResult, type ClientIdOwnerStore, type OwnerRecord } from './owners.js'
export { RedisClientIdOwners, ownerKey, type RedisOwnersOptions } from './redis-owners.js'
export { boundUnreleasedQos2, type UnreleasedCount } from './unreleased-qos2.js'
export { createSessionStore, BacklogDelivery, sweepPeriod, type SessionStore, type SessionStoreOptions, type SessionExpiredListener, type SessionBackend, type SessionClock } from './session-store.js'
export type { SessionBackendOptions, StoreDeps } from './types.js'
export { OWNER_STORES, SESSION_STORES } from './stores.js'
