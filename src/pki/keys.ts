// The fleet's keys: ECDSA P-256 (node:crypto), for every certificate a car,
// backend or provisioner holds and every command or result it signs. CA keys
// may also be P-384 or P-521 (ca-key.ts).
import { generateKeyPairSync, type KeyObject } from 'node:crypto'

/** a fresh ECDSA P-256 private key */
export function generateKey (): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
}

/** Is this (public or private) key an ECDSA P-256 key? */
export function isP256 (key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
}
