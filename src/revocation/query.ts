// What to ask the store about one connection (pure): the leaf and every CA above
// it, by fingerprint and by issuer + serial, and a vehicle's registry record.
import { subjectValue, type Identity } from '../identity/index.js'
import { isVin } from '../policy/index.js'
import type { RevocationTarget } from '../stores/revocations.js'
import type { CertificateQuery } from '../stores/connect-status.js'

export function targetsOf (identity: Identity): RevocationTarget[] {
  const targets: RevocationTarget[] = [{ fingerprint: identity.fingerprint }]
  if (identity.issuerFingerprint) targets.push({ issuer: identity.issuerFingerprint, serial: identity.serial })
  return targets.concat(caTargetsOf(identity.chain))
}

/** The CA part of targetsOf: each CA above the leaf by fingerprint, then by issuer + serial (not a self-signed root). */
export function caTargetsOf (chain: Identity['chain']): RevocationTarget[] {
  const targets: RevocationTarget[] = []
  for (const ca of chain) {
    targets.push({ fingerprint: ca.fingerprint })
    if (ca.issuerFingerprint) targets.push({ issuer: ca.issuerFingerprint, serial: ca.serial })
  }
  return targets
}

/** A vehicle (OU=vehicle, CN a VIN) also has its registry state read in the same trip. */
export function queryOf (identity: Identity): CertificateQuery {
  const cn = subjectValue(identity, 'CN')
  const vehicle = identity.subject.OU?.includes('vehicle') === true && cn !== undefined && isVin(cn)
  return vehicle ? { targets: targetsOf(identity), identity, registry: { vin: cn, fingerprint: identity.fingerprint } } : { targets: targetsOf(identity), identity }
}

/** Does this revocation target name the identity's leaf or one of its CAs? */
export function identityMatches (identity: Identity, target: RevocationTarget): boolean {
  if ('fingerprint' in target) {
    return identity.fingerprint === target.fingerprint || identity.chain.some((ca) => ca.fingerprint === target.fingerprint)
  }
  if (identity.issuerFingerprint === target.issuer && identity.serial === target.serial) return true
  return identity.chain.some((ca) => ca.issuerFingerprint === target.issuer && ca.serial === target.serial)
}
