// The parts of a certificate needed to check who signed it, read with the DER
// reader (no X509Certificate object: constructing one costs ~150-200 µs).
import { certChildren, certTlv, decodeOid, expectTag, DerError } from './der.js'

// throwing, with OpenSSL's length rule (der.ts LengthRule), as parse.ts reads a certificate

export interface SignedParts {
  /** the TBSCertificate, as signed */
  readonly tbs: Buffer
  /** node:crypto digest name, or null for Ed25519/Ed448 (no separate digest) */
  readonly digest: string | null
  readonly keyType: 'ec' | 'rsa' | 'ed'
  readonly signature: Buffer
  /** DER of the issuer Name, to find the candidate CA by its subject */
  readonly issuerName: Buffer
  /** DER of the subject Name */
  readonly subjectName: Buffer
}

const ALGORITHMS: Record<string, { digest: string | null; keyType: SignedParts['keyType'] }> = {
  '1.2.840.10045.4.3.2': { digest: 'sha256', keyType: 'ec' },
  '1.2.840.10045.4.3.3': { digest: 'sha384', keyType: 'ec' },
  '1.2.840.10045.4.3.4': { digest: 'sha512', keyType: 'ec' },
  '1.2.840.113549.1.1.11': { digest: 'sha256', keyType: 'rsa' },
  '1.2.840.113549.1.1.12': { digest: 'sha384', keyType: 'rsa' },
  '1.2.840.113549.1.1.13': { digest: 'sha512', keyType: 'rsa' },
  '1.3.101.112': { digest: null, keyType: 'ed' },
  '1.3.101.113': { digest: null, keyType: 'ed' },
}

/** null when the signature algorithm is not one of the above (callers take a slower, general path). */
export function signedParts (der: Buffer): SignedParts | null {
  const cert = expectTag(certTlv(der, 0, der.length), 0x30, 'Certificate')
  const [tbs, alg, sig] = certChildren(der, cert)
  expectTag(tbs, 0x30, 'TBSCertificate')
  const algOid = decodeOid(der, expectTag(certChildren(der, expectTag(alg, 0x30, 'signatureAlgorithm'))[0], 0x06, 'algorithm'))
  const known = ALGORITHMS[algOid]
  if (!known) return null
  const bits = expectTag(sig, 0x03, 'signature')
  if (der[bits.contentStart] !== 0) throw new DerError('signature with unused bits')
  const fields = certChildren(der, tbs!)
  const i = fields[0]?.tag === 0xa0 ? 1 : 0
  const issuer = expectTag(fields[i + 2], 0x30, 'issuer')
  const subject = expectTag(fields[i + 4], 0x30, 'subject')
  return {
    tbs: der.subarray(tbs!.start, tbs!.end),
    digest: known.digest,
    keyType: known.keyType,
    signature: der.subarray(bits.contentStart + 1, bits.end),
    // the whole TLV of each (tag + length + content): Names compare as encoded
    issuerName: der.subarray(issuer.start, issuer.end),
    subjectName: der.subarray(subject.start, subject.end),
  }
}
