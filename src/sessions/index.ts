export { MemoryClientIdOwners, ownerName, ownerRecord, type ClaimResult, type ClientIdOwnerStore, type OwnerRecord } from './owners.js'
export { RedisClientIdOwners, ownerKey, type RedisOwnersOptions } from './redis-owners.js'
