// In-memory PKI for the pure command tests (made once per run).
import {
  createRootCa, createRogueCa, createIntermediateCa, issueLeaf, DAY_MS,
  type CaMaterial, type IssuedCertificate,
} from '../../../src/pki/index.js'
import { commandTrust, SignerVerifier, type SigningKey } from '../../../src/commands/index.js'

export const VIN = '1FTFW1E50PFA00001'
export const OTHER_VIN = '1FTFW1E50PFA00002'

export interface Fixtures {
  root: CaMaterial
  issuing: CaMaterial
  manufacturing: CaMaterial
  rogue: CaMaterial
  backend: IssuedCertificate
  monitor: IssuedCertificate
  vehicle: IssuedCertificate
  otherVehicle: IssuedCertificate
  /** OU=fleet-backend but issued by the manufacturing CA */
  factoryBackend: IssuedCertificate
  /** OU=fleet-backend issued by the rogue root */
  rogueBackend: IssuedCertificate
  expiredBackend: IssuedCertificate
  chains: () => SignerVerifier
}

export function signingKey (leaf: IssuedCertificate, ca: CaMaterial): SigningKey {
  return { key: leaf.key!, chain: [leaf.cert, ca.cert] }
}

let made: Promise<Fixtures> | undefined
export function fixtures (): Promise<Fixtures> {
  made ??= (async () => {
    const root = await createRootCa()
    const issuing = await createIntermediateCa(root, 'issuing')
    const manufacturing = await createIntermediateCa(root, 'manufacturing')
    const rogue = await createRogueCa()
    return {
      root, issuing, manufacturing, rogue,
      backend: await issueLeaf(issuing, 'fleet-backend', 'fleet-backend'),
      monitor: await issueLeaf(issuing, 'fleet-monitor', 'fleet-monitor'),
      vehicle: await issueLeaf(issuing, 'vehicle', VIN),
      otherVehicle: await issueLeaf(issuing, 'vehicle', OTHER_VIN),
      factoryBackend: await issueLeaf(manufacturing, 'fleet-backend', 'fleet-backend'),
      rogueBackend: await issueLeaf(rogue, 'fleet-backend', 'fleet-backend'),
      expiredBackend: await issueLeaf(issuing, 'fleet-backend', 'old-backend', { notBefore: new Date(Date.now() - 10 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }),
      // the car's view: pinned root + the issuing CA of its own certificate
      chains: () => new SignerVerifier(commandTrust([root.cert], [issuing.cert])),
    }
  })()
  return made
}
