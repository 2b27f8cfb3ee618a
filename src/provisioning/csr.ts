// The CSR of a provisioning request, read on the hot path: framed with the
// strict DER reader (identity/der.ts explains why not a full asn1js parse), checked
// cheap first (structure, key algorithm by its AlgorithmIdentifier bytes, CN)
// before any key is imported, and its self-signature verified with node:crypto.
// The requested attributes (extensions) are never parsed: they are ignored.
// Pure: no I/O.
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { P256_KEY_ALGORITHM } from '../pki/key-id.js'
import { TAG, bytesOf, children, contentOf, readTlv, type Tlv } from '../identity/der.js'

/** CSR signature algorithms accepted for a P-256 key (ECDSA: no parameters, RFC 5758), by DER */
const ECDSA_SIGNATURE_HASH = new Map<string, string>([
  ['300a06082a8648ce3d040302', 'sha256'],
  ['300a06082a8648ce3d040303', 'sha384'],
  ['300a06082a8648ce3d040304', 'sha512'],
])

/** DER of the OID 2.5.4.3 (commonName) content */
const OID_CN = Buffer.from('550403', 'hex')

/** A CSR whose structure is well-formed DER: nothing verified yet */
export interface ParsedRequest {
  readonly der: Uint8Array
  /** certificationRequestInfo, DER: what the self-signature covers */
  readonly signedDer: Buffer
  readonly subject: Tlv
  /** subjectPKInfo, DER */
  readonly spkiDer: Buffer
  /** its AlgorithmIdentifier, DER */
  readonly keyAlgorithmDer: Buffer
  /** the subjectPublicKey BIT STRING's bits (the EC point) */
  readonly publicKeyBits: Buffer
  /** signatureAlgorithm, DER */
  readonly signatureAlgorithmDer: Buffer
  readonly signature: Buffer
}

/** bits of a BIT STRING with no unused bits; null otherwise */
function bitStringBytes (buf: Uint8Array, t: Tlv): Buffer | null {
  if (t.tag !== TAG.BIT_STRING || t.end - t.contentStart < 1 || buf[t.contentStart] !== 0) return null
  return Buffer.from(buf.buffer, buf.byteOffset + t.contentStart + 1, t.end - t.contentStart - 1)
}

/** frame a DER PKCS#10 CertificationRequest; null when it is not one */
export function parseRequest (der: Uint8Array): ParsedRequest | null {
  const outer = readTlv(der, 0, der.length, 'der')
  if (outer === null || outer.tag !== TAG.SEQUENCE || outer.end !== der.length) return null
  const top = children(der, outer, 'der')
  if (top === null || top.length !== 3) return null
  const [info, sigAlg, sig] = top as [Tlv, Tlv, Tlv]
  if (info.tag !== TAG.SEQUENCE || sigAlg.tag !== TAG.SEQUENCE) return null
  const signature = bitStringBytes(der, sig)
  if (signature === null) return null
  const fields = children(der, info, 'der')
  // version, subject, subjectPKInfo, [0] attributes (omitted by some encoders when empty)
  if (fields === null || fields.length < 3 || fields.length > 4) return null
  const [version, subject, spki, attributes] = fields as [Tlv, Tlv, Tlv, Tlv | undefined]
  if (version.tag !== TAG.INTEGER || version.end - version.contentStart !== 1 || der[version.contentStart] !== 0) return null
  if (subject.tag !== TAG.SEQUENCE || spki.tag !== TAG.SEQUENCE) return null
  if (attributes !== undefined && attributes.tag !== TAG.CONTEXT_0) return null
  const spkiParts = children(der, spki, 'der')
  if (spkiParts === null || spkiParts.length !== 2 || spkiParts[0]!.tag !== TAG.SEQUENCE) return null
  const publicKeyBits = bitStringBytes(der, spkiParts[1]!)
  if (publicKeyBits === null) return null
  return {
    der,
    signedDer: bytesOf(der, info),
    subject,
    spkiDer: bytesOf(der, spki),
    keyAlgorithmDer: bytesOf(der, spkiParts[0]!),
    publicKeyBits,
    signatureAlgorithmDer: bytesOf(der, sigAlg),
    signature,
  }
}

/** true when the CSR's key is id-ecPublicKey on P-256 (its AlgorithmIdentifier bytes: no key import) */
export function isP256Key (req: ParsedRequest): boolean {
  return req.keyAlgorithmDer.equals(P256_KEY_ALGORITHM)
}

function attributeText (der: Uint8Array, value: Tlv): string {
  const bytes = contentOf(der, value)
  switch (value.tag) {
    case TAG.UTF8_STRING: return bytes.toString('utf8')
    case TAG.PRINTABLE_STRING: case TAG.IA5_STRING: return bytes.toString('latin1')
    // any other string type is shown as '#<hex>': never equal to a VIN
    default: return '#' + bytes.toString('hex')
  }
}

/** every CN value of the CSR's subject; null when the Name is malformed */
export function commonNames (req: ParsedRequest): string[] | null {
  const out: string[] = []
  const rdns = children(req.der, req.subject, 'der')
  if (rdns === null) return null
  for (const rdn of rdns) {
    if (rdn.tag !== TAG.SET) return null
    const atvs = children(req.der, rdn, 'der')
    if (atvs === null) return null
    for (const atv of atvs) {
      const parts = atv.tag === TAG.SEQUENCE ? children(req.der, atv, 'der') : null
      if (parts === null || parts.length !== 2 || parts[0]!.tag !== TAG.OID) return null
      if (contentOf(req.der, parts[0]!).equals(OID_CN)) out.push(attributeText(req.der, parts[1]!))
    }
  }
  return out
}

/** the subject CN when there is exactly one, else null */
export function requestCommonName (req: ParsedRequest): string | null {
  const cns = commonNames(req)
  return cns !== null && cns.length === 1 ? cns[0]! : null
}

/**
 * The request's public key as a KeyObject. A P-256 key with an uncompressed
 * point goes in as its coordinates (JWK): OpenSSL 3.0 then sets them on the
 * curve directly, refusing a point off the curve, at about half the cost of
 * decoding the SPKI through its decoder framework (the provisioner's biggest
 * single cost per request). Any other key takes the SPKI path.
 */
function importPublicKey (req: ParsedRequest): KeyObject {
  const point = req.publicKeyBits
  if (point.length === 65 && point[0] === 0x04 && req.keyAlgorithmDer.equals(P256_KEY_ALGORITHM)) {
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.toString('base64url', 1, 33), y: point.toString('base64url', 33, 65) }, format: 'jwk' })
  }
  return createPublicKey({ key: req.spkiDer, format: 'der', type: 'spki' })
}

/**
 * Proof of possession: import the public key once (node:crypto) and verify the
 * CSR's self-signature over certificationRequestInfo. Returns the public key,
 * or null when the algorithm is not ECDSA, the key cannot be imported or the
 * signature does not hold.
 */
export function verifyProofOfPossession (req: ParsedRequest): KeyObject | null {
  const hash = ECDSA_SIGNATURE_HASH.get(req.signatureAlgorithmDer.toString('hex'))
  if (hash === undefined) return null
  try {
    const key = importPublicKey(req)
    return verify(hash, req.signedDer, { key, dsaEncoding: 'der' }, req.signature) ? key : null
  } catch {
    return null
  }
}
