// Sessions as fleetgate composes them with Aedes: who owns each clientId
// (owners), complete ordered delivery of persistent queues, their bound and
// expiry (session-store), and the bound on stored unreleased QoS 2 packets.
export { MemoryClientIdOwners, ownerName, ownerRecord, type ClaimResult, type ClientIdOwnerStore, type OwnerRecord } from './owners.js'
export { RedisClientIdOwners, ownerKey, type RedisOwnersOptions } from './redis-owners.js'
export { boundUnreleasedQos2, type UnreleasedCount } from './unreleased-qos2.js'
export { createSessionStore, BacklogDelivery, sweepPeriod, type SessionStore, type SessionStoreOptions, type SessionExpiredListener, type SessionBackend, type SessionClock } from './session-store.js'
