// X.509, one of each helper: the chain verifier (chain.ts: the TLS peer check
// and signed-command trust), P-256 keys (keys.ts), PEM files, key identifiers;
// and the dev/test PKI: certificate profiles, the `pki init` directory, `pki
// issue`. The profiles load @peculiar/x509 (not for hot paths): a hot path or
// the provisioner imports the module it needs (chain.ts, keys.ts, pem.ts,
// ca-key.ts, key-id.ts), not this index.
export {
  type PkiRole, PKI_ROLES, isPkiRole, CA_COMMON_NAMES, DEV_ORGANIZATION, ROLE_PROFILES, SERVER_DEFAULT_SAN,
  MINUTE_MS, DAY_MS, YEAR_MS, BACKDATE_MS,
  type CaKind, type RoleProfile, type SubjectAttribute, type SubjectSpec, type CaMaterial, type IssuedCertificate,
  type ValidityOptions, type CaOptions, type LeafOptions, type CsrLeafOptions, type ParsedCsr,
  createRootCa, createRogueCa, createIntermediateCa, caFromPem, issueLeaf, issueFromCsr,
} from './profiles.js'
export { generateKey, isP256 } from './keys.js'
export { ChainVerifier, issuedBy, isSelfSigned, validAt } from './chain.js'
export { subjectAttribute } from './subject.js'
export { keyIdentifier } from './key-id.js'
export { EKU_OIDS } from '../identity/index.js'
export {
  KEY_FILE_MODE, PRIVATE_DIR_MODE, derToPem, certificatesToPem, privateKeyToPem, parsePemCertificates, readPemCertificates,
  parsePrivateKey, readPrivateKey, parsePemCsr, readTextFile, ensureDir, writePrivateKey, writeCertificates, writeTextFile,
} from './pem.js'
export {
  type DevPkiManifest, type DevPkiPaths, type CertKeyPaths, type VehiclePaths, type LoadedPki, type InitDevPkiOptions,
  DEV_BACKEND_CN, DEV_MONITOR_CN, DEV_PROVISIONER_CN, DEV_BROKER_CN, MAX_DEV_VEHICLES,
  devPkiPaths, initDevPki, parseManifest, loadPki, loadCa, loadCaFiles, writeDevPolicy, ensureDevPolicy, spkiSha256,
} from './dev-pki.js'
export {
  type IssueCertificatesOptions, type IssueCertificatesResult, type IssuedFiles, MAX_ISSUE_COUNT, issueCertificates,
} from './issue.js'
export { VIN_ALPHABET, isVin, vinCheckDigit, hasValidCheckDigit, randomVin, randomVins } from './vin.js'
