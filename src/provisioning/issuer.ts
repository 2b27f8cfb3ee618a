// The fast issuer: a certificate for a key the sign options approved, signed
// with node:crypto by the issuing CA's KeyObject (loaded once). What does not
// change between certificates (issuer name, signature algorithm, the constant
// extensions, the SKI extension's prefix) is encoded once at construction with
// the @peculiar/asn1-x509 schemas; per certificate only the serial, validity,
// subject, SPKI and SKI are written (der-writer.ts) and spliced in. A unit test checks
// the result byte for byte against a full schema encoding.
// Pure apart from the key it is given: no I/O.
import { createPublicKey, sign, type KeyObject } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  AlgorithmIdentifier, AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, Extension, KeyIdentifier, KeyUsage,
  KeyUsageFlags, SubjectKeyIdentifier,
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509'
import { fgError } from '../contract/errors.js'
import { derToPem } from '../pki/pem.js'
import { checkCaKeyPair, randomSerial, type CaKeyPair } from '../pki/ca-key.js'
import { keyIdentifierOfBits, subjectPublicKeyBits } from '../pki/key-id.js'
import type { CertificateTemplate } from './template.js'
import { TAG, bytesOf, children, contentOf, readTlv, type Tlv } from '../identity/der.js'
import { derTime, derTlv } from './der-writer.js'
import { serialHex, sha256Hex } from '../identity/index.js'

const OID_O = Buffer.from('06035504' + '0a', 'hex')
const OID_OU = Buffer.from('06035504' + '0b', 'hex')
const OID_CN = Buffer.from('06035504' + '03', 'hex')
const OID_SKI = Buffer.from('551d0e', 'hex')
/** [0] EXPLICIT Version v3 */
const VERSION_V3 = Buffer.from('a003020102', 'hex')

export interface IssuedLeaf {
  /** the certificate, DER */
  readonly der: Buffer
  readonly pem: string
  /** lowercase hex without leading zeros (README "Redis schema") */
  readonly serial: string
  /** lowercase hex SHA-256 of the DER */
  readonly fingerprint: string
  readonly notBefore: Date
  readonly notAfter: Date
}

/** a subject public key: its SPKI DER and the subjectPublicKey bits (for the SKI) */
export interface SubjectKey {
  readonly spkiDer: Buffer
  readonly publicKeyBits: Buffer
}

/** the subject key of a KeyObject (public, or the public half of a private one) */
export function subjectKeyOf (key: KeyObject): SubjectKey {
  const spkiDer = createPublicKey(key).export({ type: 'spki', format: 'der' })
  return { spkiDer, publicKeyBits: Buffer.from(subjectPublicKeyBits(spkiDer)) }
}

export interface FastIssuer {
  /** the issuing CA certificate, PEM (the `chain` of a response) */
  readonly caPem: string
  /** lowercase hex SHA-256 of the CA certificate */
  readonly caFingerprint: string
  /** the CA subject's O, if any (vehicle certificates carry the same O) */
  readonly organization: string | null
  /** certify `key` under `template`; `serial`: 16 bytes for tests, random otherwise */
  issue (key: SubjectKey, template: Readonly<CertificateTemplate>, now?: Date, serial?: Buffer): IssuedLeaf
}

function encodeExtension (oid: string, critical: boolean, value: unknown): Buffer {
  return Buffer.from(AsnConvert.serialize(new Extension({ extnID: oid, critical, extnValue: new OctetString(AsnConvert.serialize(value)) })))
}

function rdn (oid: Buffer, text: string): Buffer {
  // UTF8String for every attribute (RFC 5280 4.1.2.6: MUST for new certificates)
  return derTlv(TAG.SET, [derTlv(TAG.SEQUENCE, [oid, derTlv(TAG.UTF8_STRING, [Buffer.from(text, 'utf8')])])])
}

/** the subject Name, DER: [O,] [OU,] CN, each its own RDN */
export function subjectName (t: Readonly<CertificateTemplate>): Buffer {
  const parts: Buffer[] = []
  if (t.organization !== null) parts.push(rdn(OID_O, t.organization))
  if (t.organizationalUnit !== null) parts.push(rdn(OID_OU, t.organizationalUnit))
  parts.push(rdn(OID_CN, t.commonName!))
  return derTlv(TAG.SEQUENCE, parts)
}

/** the TBS fields of a CA certificate that the issuer needs: subject (raw), SPKI, SKI, O */
function readCa (der: Buffer): { subject: Buffer; subjectTlv: Tlv; spki: Buffer; ski: Buffer | null } {
  const bad = (): never => { throw fgError('FG_ERR_PEM_INVALID', 'the CA certificate is not DER X.509') }
  const cert = readTlv(der, 0, der.length, 'der') ?? bad()
  const tbs = (children(der, cert, 'der') ?? bad())[0] ?? bad()
  const f = children(der, tbs, 'der') ?? bad()
  const off = f[0]?.tag === TAG.CONTEXT_0 ? 1 : 0 // version present
  const subjectTlv = f[off + 4] ?? bad()
  const spki = f[off + 5] ?? bad()
  let ski: Buffer | null = null
  const extsWrap = f.find((x) => x.tag === TAG.CONTEXT_3)
  if (extsWrap !== undefined) {
    const seq = (children(der, extsWrap, 'der') ?? bad())[0] ?? bad()
    for (const ext of children(der, seq, 'der') ?? bad()) {
      const parts = children(der, ext, 'der') ?? bad()
      if (parts[0] !== undefined && contentOf(der, parts[0]).equals(OID_SKI)) {
        const wrapped = contentOf(der, parts[parts.length - 1]!)
        const inner = readTlv(wrapped, 0, wrapped.length, 'der') ?? bad()
        ski = Buffer.from(contentOf(wrapped, inner))
      }
    }
  }
  return { subject: bytesOf(der, subjectTlv), subjectTlv, spki: bytesOf(der, spki), ski }
}

function organizationOf (der: Buffer, name: Tlv): string | null {
  for (const set of children(der, name, 'der') ?? []) {
    for (const atv of children(der, set, 'der') ?? []) {
      const parts = children(der, atv, 'der')
      if (parts !== null && parts.length === 2 && bytesOf(der, parts[0]!).equals(OID_O)) return contentOf(der, parts[1]!).toString('utf8')
    }
  }
  return null
}

/**
 * A fast issuer for the CA certificate `caCertDer` and its private key
 * (a node:crypto KeyObject: PKCS#8 or SEC1 read once, e.g. with readPrivateKey).
 * Throws FG_ERR_KEY_MISMATCH / FG_ERR_PKI_INVALID for a wrong key or a non-CA.
 */
export function createFastIssuer (caCertDer: Uint8Array, caKey: KeyObject, source = 'issuing CA'): FastIssuer {
  return fastIssuerFor(checkCaKeyPair(caCertDer, caKey, source))
}

/** the fast issuer of a CA certificate and key already checked (checkCaKeyPair, readCaKeyPair) */
export function fastIssuerFor (pair: CaKeyPair): FastIssuer {
  const { der: caDer, key: caKey, curve } = pair
  const ca = readCa(caDer)
  // AKI = the CA's SKI when it has one, else computed as RFC 5280 method 1
  const caKeyId = ca.ski ?? keyIdentifierOfBits(subjectPublicKeyBits(ca.spki))
  const signatureAlgorithm = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: curve.signatureOid })))
  const basicConstraints = encodeExtension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false }))
  const keyUsage = encodeExtension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature))
  const aki = encodeExtension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(caKeyId) }))
  // SKI extension = this prefix + the 20-byte SHA-1 key identifier
  const skiTemplate = encodeExtension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(new Uint8Array(20)))
  const skiPrefix = skiTemplate.subarray(0, skiTemplate.length - 20)
  const ekuByList = new Map<string, Buffer>()
  const ekuOf = (oids: readonly string[]): Buffer => {
    const k = oids.join(',')
    let ext = ekuByList.get(k)
    if (ext === undefined) {
      ext = encodeExtension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([...oids]))
      if (ekuByList.size < 16) ekuByList.set(k, ext)
    }
    return ext
  }

  return {
    caPem: derToPem(caDer, 'CERTIFICATE'),
    caFingerprint: sha256Hex(caDer),
    organization: organizationOf(caDer, ca.subjectTlv),
    issue (key, t, now = new Date(), serial = randomSerial()) {
      if (t.commonName === null || t.commonName === '') throw new Error('certificate template without a CN')
      if (t.extKeyUsage.length === 0) throw new Error('certificate template without an EKU')
      if (!(t.lifetimeMs > 0)) throw new Error('certificate template without a lifetime')
      if (serial.length !== 16 || (serial[0]! & 0x80) !== 0 || serial[0] === 0) throw new Error('serial must be 16 bytes, positive, minimal')
      const notBefore = new Date(Math.floor((now.getTime() - t.backdateMs) / 1000) * 1000)
      const notAfter = new Date(Math.floor((now.getTime() + t.lifetimeMs) / 1000) * 1000)
      const ski = keyIdentifierOfBits(key.publicKeyBits)
      const tbs = derTlv(TAG.SEQUENCE, [
        VERSION_V3,
        derTlv(TAG.INTEGER, [serial]),
        signatureAlgorithm,
        ca.subject,
        derTlv(TAG.SEQUENCE, [derTime(notBefore), derTime(notAfter)]),
        subjectName(t),
        key.spkiDer,
        derTlv(TAG.CONTEXT_3, [derTlv(TAG.SEQUENCE, [basicConstraints, keyUsage, ekuOf(t.extKeyUsage), skiPrefix, ski, aki])]),
      ])
      const signature = sign(curve.digest, tbs, { key: caKey, dsaEncoding: 'der' })
      // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
      const der = derTlv(TAG.SEQUENCE, [tbs, signatureAlgorithm, derTlv(TAG.BIT_STRING, [Buffer.from([0]), signature])])
      return {
        der,
        pem: derToPem(der, 'CERTIFICATE'),
        serial: serialHex(serial),
        fingerprint: sha256Hex(der),
        notBefore,
        notAfter,
      }
    },
  }
}
