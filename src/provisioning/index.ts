// Provisioning and rotation (README "Provisioning and rotation"): the CSR
// checks, the fast issuer, step-ca style sign options, the service's decisions,
// its state (nonces, rate limit, retirements) and the MQTT process.
export { parseRequest, isP256Key, requestCommonName, verifyProofOfPossession, type ParsedRequest } from './csr.js'
export { createFastIssuer, subjectName, subjectKeyOf, type FastIssuer, type IssuedLeaf, type SubjectKey } from './issuer.js'
export { BACKDATE_MS, emptyTemplate, type CertificateTemplate } from './template.js'
export {
  authorize, signRequest, SignOptionError, p256KeyValidator, commonNameValidator, proofOfPossessionValidator, forceVehicleSubject,
  clientAuthOnly, lifetimeModifier, vehicleProfileValidator,
  type ApprovedRequest, type SignOption, type CsrValidator, type TemplateModifier, type TemplateValidator, type CsrContext, type AuthorizeOptions,
} from './sign-options.js'
export {
  MAX_REQUEST_BYTES, REQUEST_FILTERS, requestTopic, responseTopic, parseRequestTopic, parseRequestBody, parseResponseBody,
  issuedResponse, rejectedResponse,
  type Channel, type RequestTopic, type ProvisioningRequest, type ProvisioningResponse, type IssuedResponse, type RejectedResponse,
} from './messages.js'
export { buildCsr } from './csr-build.js'
export { writeFileAtomic } from './atomic-file.js'
export { ProvisioningService, RETIRE_REASON, BUSY_WAIT_MS, type ServiceOptions, type RateLimit, type Outcome } from './service.js'
export { FileProvisionerState, NONCE_TTL_MS, CLAIM_LEASE_MS, STATE_FILE, LOCK_FILE, type ProvisionerState, type Claim, type CountedClaim, type Retirement } from './state.js'
export { RedisProvisionerState } from './redis-state.js'
export {
  startProvisioner, loadIssuer, parseRateLimit, DEFAULT_GRACE_MS, DEFAULT_LIFETIME_MS, DEFAULT_RATE_LIMIT,
  type ProvisionerConfig, type RunningProvisioner,
} from './provisioner.js'
