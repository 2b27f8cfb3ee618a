// Key identifiers and the P-256 SPKI encoding, shared by the dev PKI
// (profiles.ts) and the provisioner's fast issuer and CSR checks. node:crypto
// and the asn1 schemas only: no @peculiar/x509 (the provisioner never loads it).
import { createHash } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509'

/** AlgorithmIdentifier { id-ecPublicKey, prime256v1 }, DER */
export const P256_KEY_ALGORITHM = Buffer.from('301306072a8648ce3d020106082a8648ce3d030107', 'hex')
/** a P-256 SPKI with an uncompressed point is this fixed 26-byte header (SEQUENCE, the algorithm, BIT STRING of 66 bytes), then the 65-byte point */
export const P256_SPKI_HEADER = Buffer.concat([Buffer.from('3059', 'hex'), P256_KEY_ALGORITHM, Buffer.from('034200', 'hex')])

/** the subjectPublicKey BIT STRING's bits of an SPKI (DER) */
export function subjectPublicKeyBits (spki: Uint8Array): Uint8Array {
  // fast path: a P-256 SPKI is the fixed header, then the point
  return spki.length === P256_SPKI_HEADER.length + 65 && Buffer.from(spki.buffer, spki.byteOffset, P256_SPKI_HEADER.length).equals(P256_SPKI_HEADER)
    ? spki.subarray(P256_SPKI_HEADER.length)
    : new Uint8Array(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey)
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (what the SKI holds, 20 bytes) */
export function keyIdentifierOfBits (publicKeyBits: Uint8Array): Buffer {
  return createHash('sha1').update(publicKeyBits).digest()
}

/** the key identifier of an SPKI (DER), lowercase hex */
export function keyIdentifier (spki: Uint8Array): string {
  return keyIdentifierOfBits(subjectPublicKeyBits(spki)).toString('hex')
}
