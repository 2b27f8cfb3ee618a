export { MemoryClientIdOwners, ownerName, ownerRecord, type ClaimResult, type ClientIdOwnerStore, type OwnerRecord } from './owners.js'
export { RedisClientIdOwners, ownerKey, type RedisOwnersOptions } from './redis-owners.js'
export { boundUnreleasedQos2, type UnreleasedCount } from './unreleased-qos2.js'
