// Revocation: one RevocationStore contract (types.ts), a Redis and a file
// implementation. The broker's guard (connect check + live enforcement) is src/checks/revocation-guard.ts.
export type {
  RevocationEntry, RevocationTarget, RevokedRecord, RegistryRecord, CertificateQuery, CertificateStatus, StoreEvent, RevocationStore,
} from './types.js'
export {
  DEFAULT_PREFIX, REVOCATION_REASONS, keysFor, normaliseFingerprint, serialSpellings, encodeEntry, decodeEntry,
  encodeAnnouncement, decodeAnnouncement, encodeFirstConnect, decodeFirstConnect, encodeRegistry, decodeRegistry,
  describeRecord, type Keys,
} from './schema.js'
export { queryOf, targetsOf, identityMatches } from './query.js'
export { CleanCache } from './clean-cache.js'
export { RedisRevocationStore, openRedisLink, redactUrl, redisRetryDelay, type RedisStoreOptions } from './redis-store.js'
export { FileRevocationStore, STORE_FILE, type FileStoreOptions } from './file-store.js'
export { openRevocationStore, type StoreChoice } from './open.js'
export { parseCrl, crlIsStale, type ParsedCrl, type CrlEntry } from './crl.js'
export { revokeVehicle, type RevokedVehicle } from './vehicle.js'
