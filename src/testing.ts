// fleetgate/testing: the second public entry. A throwaway fleet PKI for
// development, tests and security testing (what `fleetgate pki init` and
// `fleetgate pki issue` make): a root, issuing and manufacturing CA, sample
// vehicles and the other roles, attack material, and certificates issued from
// it on demand. Never for production keys (README "Library API").
export {
  initDevPki, devPkiPaths, loadPki, loadCa, MAX_DEV_VEHICLES,
  type InitDevPkiOptions, type DevPkiManifest, type DevPkiPaths, type CertKeyPaths, type VehiclePaths, type LoadedPki,
} from './pki/dev-pki.js'
export { issueLeaf, type CaMaterial, type IssuedCertificate, type LeafOptions, type PkiRole } from './pki/profiles.js'
export { randomVin, randomVins } from './pki/vin.js'
