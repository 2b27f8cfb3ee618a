// Dev/test PKI: certificate profiles, the `pki init` directory, `pki issue`,
// PEM file helpers. Not for hot paths (it uses @peculiar/x509).
export {
  type PkiRole, PKI_ROLES, isPkiRole, CA_COMMON_NAMES, DEV_ORGANIZATION, ROLE_PROFILES, SERVER_DEFAULT_SAN, EKU_OIDS,
  MINUTE_MS, DAY_MS, YEAR_MS, BACKDATE_MS,
  type CaKind, type RoleProfile, type SubjectAttribute, type SubjectSpec, type CaMaterial, type IssuedCertificate,
  type ValidityOptions, type CaOptions, type LeafOptions, type CsrLeafOptions, type ParsedCsr,
  createRootCa, createRogueCa, createIntermediateCa, caFromPem, issueLeaf, issueFromCsr, generateKey,
} from './profiles.js'
export { keyIdentifier } from './key-id.js'
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
