// fleetgate's public library API (what `import ... from 'fleetgate'` gives).
// The simulator and other people's brokers import only this module.
// The plugin and the ready broker
export { createFleetgate, tlsPaths, type Fleetgate, type FleetgateOptions, type FleetgateParts } from './broker/fleetgate.js'
export { composeHooks, type HookSet } from './broker/compose.js'
export { RefusalError, type FleetgateHooks } from './broker/hooks.js'
// The plugin contract: what a check of your own is written against (docs/ARCHITECTURE.md "The contract of a check")
export type {
  CheckResult, Refusal, SessionView, ConnectCheck, PublishCheck, SubscribeCheck, DecisionCounter, LiveSessions, SessionEnd,
} from './contract/index.js'
export { startBroker, type RunningBroker, type StartOptions } from './broker/server.js'
export { createMq, MQ_OPTIONS, type BrokerMq } from './cluster/mq.js'
export type { Session, ConnectionInfo } from './broker/session.js'

// Configuration
export { resolveConfig, SERVE_OPTIONS, flagOf, envOf, type Config, type ConfigInput, type ServeOptionName } from './config/index.js'

// Errors (operator mistakes) and reasons (decisions about clients)
export { FleetgateError, ERROR_CODES, fgError, isFleetgateError, type FleetgateErrorCode } from './contract/errors.js'
export {
  ACCEPT_REASONS, CONNECT_REASONS, STREAM_REASONS, PUBLISH_REASONS, SUBSCRIBE_REASONS, LIVE_REASONS, DELIVERY_REASONS, COMMAND_REASONS, PROVISIONING_REASONS,
  type Reason, type AcceptReason, type ConnectReason, type StreamReason, type PublishReason, type SubscribeReason, type LiveReason,
  type DeliveryReason, type CommandReason, type ProvisioningReason, type Decision,
} from './contract/reasons.js'

// Identity and policy
export type { Identity, CaInfo, NameAttributes } from './identity/index.js'
export { subjectValue } from './identity/index.js'
export { loadPolicyFile, parsePolicy, defaultPolicyPath, isVin, type Policy, type Grant, type PolicyDecision, type PolicyRefusal } from './policy/index.js'

// Sessions: who owns each clientId, cluster-wide
export { MemoryClientIdOwners, RedisClientIdOwners, ownerKey, type ClientIdOwnerStore, type OwnerRecord, type ClaimResult, type RedisOwnersOptions } from './sessions/index.js'

// Hardening, reload, metrics
export { guardReads, PacketScanner, ConnectionLimiter, type Oversize } from './checks/index.js'
export { ExpiryBuckets, ExpiryGuard, firstExpiryOf, MAX_TIMER_MS, type ExpiryClock, type ExpiryGuardOptions, type FirstExpiry } from './checks/index.js'
export type { ReloadResult } from './reload/index.js'
export { createMetrics, serveMetrics, type FleetgateMetrics, type MetricsServer } from './metrics/index.js'

// Signed commands (README "Signed commands"): pure sign/verify, allowlist, x5c trust, the car's key list and roles,
// replay set; the broker edge check
export {
  COMMAND_NAMES, type CommandName, isCommandName, argsValid, argsProblem, isKeyCommand, DEFAULT_COMMAND_ROLES, type CommandRoles,
  MAX_JWS_BYTES, type CommandPayload, type ResultPayload, type ResultStatus, type KeyRecordPayload, isUuid, parseCommandJws, parseResultJws, parseKeyRecordJws,
  commandTrust, SignerVerifier, type CommandTrust, type Signer, ReplayCache, DEFAULT_REPLAY_CAPACITY,
  verifyCommand, DEFAULT_SKEW_MS, DEFAULT_MAX_LIFETIME_MS, type CommandPolicy, type VerifyContext, type VerifiedCommand, type CommandDecision, type CarKeys,
  signJws, signCommand, commandPayload, signResult, signKeyRecord, type SigningKey, type UserSigningKey, type CommandInput, type ResultExtras,
  verifyResult, verifyKeyRecord, type ResultDecision, type KeyRecordDecision,
  KEY_ROLES, type KeyRole, KEY_COMMANDS, type KeyCommandName, VEHICLE_COMMANDS, ROLE_TABLE, ADDABLE_ROLES, DEFAULT_BACKEND_ROLE, BACKEND_OU,
  MAX_KEYS, MAX_KEY_WINDOW_MS, isKeyRole, roleAllows, isThumbprint, publicJwkProblem, thumbprintOf, publicJwkOf, jwkKey,
  emptyKeyList, findKey, certificateRole, keyListView, planKeyChange, transferTo, pairOwner, wipeKeyList, parseKeyList,
  type PublicJwk, type UserKey, type KeyList, type KeyEntryView, type KeyChange, type KeyPlan,
} from './commands/index.js'
export { commandEdgeCheck, edgeCommandTrust, type CommandEdgeOptions, type SignerRevocationLookup } from './checks/index.js'

// A file replaced in one step (temporary file, fsync, rename): the simulated car's state
export { writeFileAtomic } from './provisioning/atomic-file.js'

// fleetgate's own MQTT clients (simulator, provisioner)
export { parseBrokerUrl, type BrokerAddress } from './client/broker-url.js'

// Stores: one port per kind of state (src/stores); createFleetgate's parts.stores takes your own objects.
// Open the ones the broker reads; revoke a car (every certificate the registry knows for its VIN)
export {
  openStores, closeStores, type StoreChoice, type RevocationStore, type RevocationEntry, type RevocationTarget, type RevokedRecord,
  type RevocationQuery, type RevocationStatus, type RevocationEvent, type DeviceRegistry, type RegistryRecord, type RegistryEvent,
  type CertState, type StateEntry, type StateRecord, type StateChange, type OperatorLogEntry, type OperatorAct,
} from './stores/index.js'
export { openRevocationStore, revokeVehicle, setCertificateState, certificateHistory, REVOCATION_STORES, REGISTRY_STORES, type RevokedVehicle, type VehicleStores } from './revocation/index.js'
export {
  REVOCATION_SOURCES, openRevocationSources, anyOfRevocations, AnyOfRevocationStores, CrlRevocationSource, OcspRevocationSource, ocspRequest, parseOcspResponse,
  type RevocationSourceChoice, type RevocationSourceContext, type RevocationSourceFactory, type CrlSourceOptions, type OcspSourceOptions, type OcspAnswer,
} from './revocation/index.js'
export { FLEETGATE_STORES, type FleetgateStores } from './broker/stores.js'

// What the simulator and the benchmarks use, as any client of fleetgate would
// (the dev PKI is in the second entry, fleetgate/testing: src/testing.ts).
// X.509: the one chain verifier and its link checks, the fleet's P-256 keys, EKU OIDs, PEM files, certificate fields
export { ChainVerifier, issuedBy, isSelfSigned, validAt } from './pki/chain.js'
export { generateKey, isP256 } from './pki/keys.js'
export { subjectAttribute } from './pki/subject.js'
export { EKU_OIDS, EKU_CLIENT_AUTH, EKU_DOCUMENT_SIGNING, parseCertificate, sha256Hex, normaliseSerial, isSafeIdentityValue, type ParsedCertificate } from './identity/index.js'
export { parsePemCertificates, readPemCertificates, parsePrivateKey, readPrivateKey, parsePemCsr, readFlagFile } from './pki/pem.js'
// TLS: the broker's server options (what startBroker listens with); a client's MQTT.js options
export { loadTlsMaterial, tlsServerOptions, type LoadedTlsMaterial } from './tls/index.js'
export { mqttsOptions, type ClientTlsPem } from './client/mqtts-options.js'
// The audit log
export { createAuditLogger, type AuditLogger } from './audit/index.js'
// Provisioning: the car's side (CSR, topics, messages), the provisioner, and its parts (sign options, fast issuer)
export {
  buildCsr, requestTopic, responseTopic, parseRequestTopic, parseRequestBody, parseResponseBody, issuedResponse, rejectedResponse, REQUEST_FILTERS,
  type Channel, type ProvisioningRequest, type ProvisioningResponse,
  startProvisioner, DEFAULT_RATE_LIMIT, type ProvisionerConfig, type RunningProvisioner,
  loadIssuer, subjectKeyOf, parseRequest, authorize, signRequest, emptyTemplate, type FastIssuer, type CertificateTemplate,
} from './provisioning/index.js'
