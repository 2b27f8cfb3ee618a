// Revocation: the revocation store and device registry implementations (ports in
// src/stores), their factory maps and the Redis schema. The broker's guard
// (connect check + live enforcement) is src/checks/revocation-guard.ts.
export type {
  RevocationEntry, RevocationTarget, RevokedRecord, RegistryRecord, RevocationQuery, RevocationStatus, RevocationEvent, RegistryEvent,
  RevocationStore, DeviceRegistry, CertificateQuery, CertificateStatus, CertificateStatusSource, StoreEvent, StoreChoice,
  CertState, StateEntry, StateRecord, StateChange, OperatorLogEntry, OperatorAct,
} from '../stores/index.js'
export { redactUrl, redisRetryDelay, openRedisLink } from '../stores/index.js'
export {
  DEFAULT_PREFIX, REVOCATION_REASONS, keysFor, normaliseFingerprint, serialSpellings, encodeEntry, decodeEntry,
  encodeAnnouncement, decodeAnnouncement, encodeFirstConnect, decodeFirstConnect, encodeRegistry, decodeRegistry,
  describeRecord, type Keys,
  encodeState, decodeState, decodeStateAnnouncement, describeTarget, OPERATOR_ACTIONS,
} from './schema.js'
export { queryOf, targetsOf, identityMatches } from './query.js'
export { CleanCache } from './clean-cache.js'
export { StoreFile, STORE_FILE, type FileStoreOptions } from './store-file.js'
export { FileRevocationStore } from './file-store.js'
export { FileDeviceRegistry } from './registry-file.js'
export { RedisStoreLink, type RedisStoreOptions } from './redis-link.js'
export { RedisRevocationStore } from './redis-store.js'
export { RedisDeviceRegistry } from './registry-redis.js'
export {
  REVOCATION_STORES, REGISTRY_STORES, REVOCATION_SOURCES, openRevocationStore, openRevocationSources, anyOfRevocations,
  type RevocationSourceChoice, type RevocationSourceContext, type RevocationSourceFactory,
} from './stores.js'
export { AnyOfRevocationStores } from './any-of.js'
export { CrlRevocationSource, MAX_CRL_BYTES, type CrlSourceOptions } from './crl-source.js'
export { OcspRevocationSource, type OcspSourceOptions } from './ocsp-source.js'
export { ocspRequest, parseOcspResponse, type OcspAnswer, type OcspCertStatus } from './ocsp.js'
export { parseCrl, crlIsStale, type ParsedCrl, type CrlEntry } from './crl.js'
export { revokeVehicle, type RevokedVehicle, type VehicleStores } from './vehicle.js'
export { setCertificateState, certificateHistory } from './states.js'
