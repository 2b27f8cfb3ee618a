export { createAuditLogger, REDACT_PATHS, type AuditLogger } from './logger.js'
export { identityFields, clip } from './serializers.js'
export { auditConnectAllow, type ConnectAllowFields } from './connect-line.js'
export { SampledAudit } from './sampled.js'
