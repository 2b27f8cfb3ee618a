// DER chain -> Identity. Pure: no sockets, no files. Reads the certificate with
// the strict DER reader in der.ts (the asn1-schema parse costs ~440 µs
// per certificate; @peculiar/x509 ~1 ms: ARCHITECTURE.md "Known pitfalls of the libraries"), with OpenSSL's
// length rule: the TLS handshake accepted the certificate as encoded.
import { createHash, hash } from 'node:crypto'
import type { CaInfo, Identity, NameAttributes } from './identity.js'
import { certChildren, certTlv, decodeOid, decodeString, decodeTime, expectTag, DerError, type Tlv } from './der.js'

// throwing, with OpenSSL's length rule (der.ts LengthRule)
/** a GeneralName's dNSName, URI or rfc822Name: an IA5String under a context tag */
const asIa5 = (t: Tlv): Tlv => ({ tag: 0x16, start: t.start, contentStart: t.contentStart, end: t.end })

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.11': 'OU', '2.5.4.10': 'O', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.5': 'serialNumber', '2.5.4.9': 'street', '2.5.4.12': 'title', '2.5.4.4': 'SN', '2.5.4.42': 'GN',
  '1.2.840.113549.1.9.1': 'emailAddress', '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID',
}
const EXT_EKU = '2.5.29.37'
const EXT_SAN = '2.5.29.17'
const EXT_KEY_USAGE = '2.5.29.15'
const EXT_POLICIES = '2.5.29.32'
const EXT_AIA = '1.3.6.1.5.5.7.1.1'
const AD_OCSP = '1.3.6.1.5.5.7.48.1'
const EXT_CDP = '2.5.29.31'

const NONE: readonly string[] = Object.freeze([])
const NO_SAN: Identity['san'] = Object.freeze({ dns: NONE, uri: NONE, ip: NONE, email: NONE })

/**
 * Lowercase hex SHA-256 (a certificate's fingerprint). Node's one-shot hash()
 * (20.12+) costs ~5 µs against ~30 µs for a Hash object; it runs on every
 * CONNECT (the identity cache is keyed by the leaf's fingerprint).
 */
export const sha256Hex: (der: Uint8Array) => string = typeof hash === 'function'
  ? (der) => hash('sha256', der, 'hex')
  : (der) => createHash('sha256').update(der).digest('hex')

/** Serial as lowercase hex without leading zeros (README "Redis schema": 0x01 is `1`). */
export function serialHex (bytes: ArrayBuffer | Uint8Array): string {
  const hex = Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex').replace(/^0+/, '')
  return hex === '' ? '0' : hex
}

/** Normalise any serial spelling (openssl's `0A:BC`, `0x0abc`, `0ABC`) to the stored form. */
export function normaliseSerial (text: string): string | null {
  const hex = text.trim().toLowerCase().replace(/^0x/, '').replace(/:/g, '')
  if (hex === '' || !/^[0-9a-f]+$/.test(hex)) return null
  const stripped = hex.replace(/^0+/, '')
  return stripped === '' ? '0' : stripped
}

// Issuer names repeat across every leaf of a CA, EKU lists across a fleet:
// share one frozen copy instead of one per connection.
const interned = new Map<string, unknown>()
function intern<T> (key: string, make: () => T): T {
  let v = interned.get(key) as T | undefined
  if (v === undefined) {
    v = make()
    if (interned.size < 10_000) interned.set(key, v)
  }
  return v
}

// Values that differ per certificate are not shared; the others (O, OU, C, ...)
// repeat across a whole fleet and get one frozen array each.
const UNIQUE_ATTRIBUTES = new Set(['CN', 'serialNumber', 'UID', 'emailAddress'])

function readName (buf: Uint8Array, name: Tlv): NameAttributes {
  // A plain object (a null prototype would make it a dictionary: larger per
  // connection); keys are attribute names or dotted OIDs, never "__proto__".
  const out: Record<string, string[]> = {}
  for (const rdn of certChildren(buf, name)) {
    expectTag(rdn, 0x31, 'RDN SET')
    for (const atv of certChildren(buf, rdn)) {
      const [type, value] = certChildren(buf, expectTag(atv, 0x30, 'AttributeTypeAndValue'))
      const oid = decodeOid(buf, expectTag(type, 0x06, 'attribute type'))
      if (!value) throw new DerError('attribute without value')
      const key = ATTRIBUTE_NAMES[oid] ?? oid
      ;(Object.hasOwn(out, key) ? out[key]! : (out[key] = [])).push(decodeString(buf, value))
    }
  }
  for (const k of Object.keys(out)) {
    const v = out[k]!
    out[k] = v.length === 1 && !UNIQUE_ATTRIBUTES.has(k) ? intern('val:' + v[0], () => Object.freeze(v)) as string[] : Object.freeze(v) as string[]
  }
  return Object.freeze(out)
}

/** IPv4 dotted, IPv6 in RFC 5952 form (lowercase, longest zero run as `::`). */
function ipText (b: Uint8Array): string {
  if (b.length === 4) return [...b].join('.')
  if (b.length !== 16) return Buffer.from(b).toString('hex')
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!)
  let bestStart = -1; let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':')
}

export interface ParsedCertificate {
  readonly fingerprint: string
  readonly serial: string
  readonly subject: NameAttributes
  readonly issuer: NameAttributes
  readonly notBefore: Date
  readonly notAfter: Date
  readonly eku: readonly string[] | null
  /** keyUsage digitalSignature (bit 0); null when the leaf has no keyUsage extension */
  readonly digitalSignature: boolean | null
  readonly policies: readonly string[]
  readonly san: Identity['san']
  readonly selfIssued: boolean
  /** OCSP URLs of the Authority Information Access extension (empty: none) */
  readonly ocsp: readonly string[]
  /** URIs of the CRL Distribution Points extension's full names (empty: none) */
  readonly crl: readonly string[]
}

/**
 * Throws (DerError) on anything malformed: the caller refuses such a certificate.
 * `fingerprint`: the SHA-256 hex of `der` when the caller has it already (one hash, one string per leaf).
 */
export function parseCertificate (der: Uint8Array, fingerprint?: string): ParsedCertificate {
  const cert = expectTag(certTlv(der, 0, der.length), 0x30, 'Certificate')
  if (cert.end !== der.length) throw new DerError('trailing bytes')
  const tbsTlv = expectTag(certChildren(der, cert)[0], 0x30, 'TBSCertificate')
  const tbs = certChildren(der, tbsTlv)
  let i = tbs[0]?.tag === 0xa0 ? 1 : 0 // [0] version
  const serial = expectTag(tbs[i++], 0x02, 'serialNumber')
  expectTag(tbs[i++], 0x30, 'signature algorithm')
  const issuerTlv = expectTag(tbs[i++], 0x30, 'issuer')
  const validity = certChildren(der, expectTag(tbs[i++], 0x30, 'validity'))
  const subjectTlv = expectTag(tbs[i++], 0x30, 'subject')
  expectTag(tbs[i++], 0x30, 'subjectPublicKeyInfo')
  let eku: readonly string[] | null = null
  let digitalSignature: boolean | null = null
  let policies: readonly string[] = NONE
  let ocsp: readonly string[] = NONE
  let crl: readonly string[] = NONE
  const dns: string[] = []; const uri: string[] = []; const ip: string[] = []; const email: string[] = []
  for (; i < tbs.length; i++) {
    if (tbs[i]!.tag !== 0xa3) continue // [1], [2] unique ids
    const list = expectTag(certChildren(der, tbs[i]!)[0], 0x30, 'Extensions')
    for (const ext of certChildren(der, list)) {
      const parts = certChildren(der, expectTag(ext, 0x30, 'Extension'))
      const id = decodeOid(der, expectTag(parts[0], 0x06, 'extnID'))
      const value = expectTag(parts[parts.length - 1], 0x04, 'extnValue')
      if (id === EXT_EKU) {
        const oids = certChildren(der, expectTag(certTlv(der, value.contentStart, value.end), 0x30, 'ExtKeyUsage')).map((t) => decodeOid(der, expectTag(t, 0x06, 'KeyPurposeId')))
        eku = intern('eku:' + oids.join(','), () => Object.freeze(oids))
      } else if (id === EXT_KEY_USAGE) {
        // BIT STRING: unused-bits byte, then bit 0 (digitalSignature) is the first byte's top bit
        const bits = expectTag(certTlv(der, value.contentStart, value.end), 0x03, 'KeyUsage')
        digitalSignature = bits.end - bits.contentStart > 1 && (der[bits.contentStart + 1]! & 0x80) !== 0
      } else if (id === EXT_POLICIES) {
        const oids = certChildren(der, expectTag(certTlv(der, value.contentStart, value.end), 0x30, 'CertificatePolicies'))
          .map((p) => decodeOid(der, expectTag(certChildren(der, expectTag(p, 0x30, 'PolicyInformation'))[0], 0x06, 'policyIdentifier')))
        policies = intern('pol:' + oids.join(','), () => Object.freeze(oids))
      } else if (id === EXT_AIA) {
        const urls: string[] = []
        for (const ad of certChildren(der, expectTag(certTlv(der, value.contentStart, value.end), 0x30, 'AuthorityInfoAccessSyntax'))) {
          const [method, location] = certChildren(der, expectTag(ad, 0x30, 'AccessDescription'))
          if (decodeOid(der, expectTag(method, 0x06, 'accessMethod')) === AD_OCSP && location?.tag === 0x86) urls.push(decodeString(der, asIa5(location)))
        }
        // a fleet's leaves name the same responder: one frozen list
        if (urls.length > 0) ocsp = intern('ocsp:' + urls.join(' '), () => Object.freeze(urls))
      } else if (id === EXT_CDP) {
        // DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } ... }: the URIs ([6]) of each full name
        const urls: string[] = []
        for (const dp of certChildren(der, expectTag(certTlv(der, value.contentStart, value.end), 0x30, 'CRLDistributionPoints'))) {
          const name = certChildren(der, expectTag(dp, 0x30, 'DistributionPoint')).find((t) => t.tag === 0xa0)
          const full = name && certChildren(der, name).find((t) => t.tag === 0xa0)
          for (const gn of full ? certChildren(der, full) : []) if (gn.tag === 0x86) urls.push(decodeString(der, asIa5(gn)))
        }
        if (urls.length > 0) crl = intern('crl:' + urls.join(' '), () => Object.freeze(urls))
      } else if (id === EXT_SAN) {
        for (const gn of certChildren(der, expectTag(certTlv(der, value.contentStart, value.end), 0x30, 'GeneralNames'))) {
          const bytes = der.subarray(gn.contentStart, gn.end)
          if (gn.tag === 0x82) dns.push(decodeString(der, asIa5(gn)))
          else if (gn.tag === 0x86) uri.push(decodeString(der, asIa5(gn)))
          else if (gn.tag === 0x81) email.push(decodeString(der, asIa5(gn)))
          else if (gn.tag === 0x87) ip.push(ipText(bytes))
        }
      }
    }
  }
  const issuerBytes = der.subarray(issuerTlv.contentStart, issuerTlv.end)
  const issuerKey = Buffer.from(issuerBytes).toString('base64')
  const subjectBytes = der.subarray(subjectTlv.contentStart, subjectTlv.end)
  const freezeOrNone = (a: string[]): readonly string[] => (a.length === 0 ? NONE : Object.freeze(a))
  return Object.freeze({
    fingerprint: fingerprint ?? sha256Hex(der),
    serial: serialHex(der.subarray(serial.contentStart, serial.end)),
    subject: readName(der, subjectTlv),
    issuer: intern('iss:' + issuerKey, () => readName(der, issuerTlv)),
    notBefore: decodeTime(der, validity[0]!),
    notAfter: decodeTime(der, validity[1]!),
    eku,
    digitalSignature,
    policies,
    // most client certificates have no SAN: they share one empty record
    san: dns.length + uri.length + ip.length + email.length === 0 ? NO_SAN : Object.freeze({ dns: freezeOrNone(dns), uri: freezeOrNone(uri), ip: freezeOrNone(ip), email: freezeOrNone(email) }),
    selfIssued: Buffer.from(issuerBytes).equals(subjectBytes),
    ocsp,
    crl,
  })
}

/**
 * Build the Identity from the verified chain: leaf first, then the CA
 * certificates above it (issuing CA, ..., root). `caInfo` resolves CA
 * certificates parsed once at load (by fingerprint) so a connection parses only its leaf.
 */
export function identityFromChain (chainDer: readonly Uint8Array[], caInfo: (der: Uint8Array) => CaInfo, leafFingerprint?: string): Identity {
  if (chainDer.length === 0) throw new Error('empty certificate chain')
  const leaf = parseCertificate(chainDer[0]!, leafFingerprint)
  const cas = chainDer.slice(1).map(caInfo)
  // every leaf of one CA path shares one frozen chain
  const chain = intern('chain:' + cas.map((c) => c.fingerprint).join(','), () => Object.freeze(cas))
  return Object.freeze({
    subject: leaf.subject,
    issuer: leaf.issuer,
    san: leaf.san,
    serial: leaf.serial,
    fingerprint: leaf.fingerprint,
    issuerFingerprint: chain[0]?.fingerprint ?? null,
    chain,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    eku: leaf.eku,
    policies: leaf.policies,
    ...(leaf.ocsp.length > 0 ? { ocsp: leaf.ocsp } : {}),
    ...(leaf.crl.length > 0 ? { crl: leaf.crl } : {}),
  })
}

/** CaInfo for a CA certificate given the DER of the certificate above it (null for a root). */
export function caInfoOf (der: Uint8Array, issuerDer: Uint8Array | null): CaInfo {
  const parsed = parseCertificate(der)
  return Object.freeze({
    fingerprint: parsed.fingerprint,
    serial: parsed.serial,
    issuerFingerprint: issuerDer ? sha256Hex(issuerDer) : null,
    subject: parsed.subject,
    spki: sha256Hex(subjectPublicKeyInfo(der)),
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
  })
}

/** The DER of a certificate's SubjectPublicKeyInfo (throws DerError on a malformed certificate). */
export function subjectPublicKeyInfo (der: Uint8Array): Uint8Array {
  const cert = expectTag(certTlv(der, 0, der.length), 0x30, 'Certificate')
  const tbs = certChildren(der, expectTag(certChildren(der, cert)[0], 0x30, 'TBSCertificate'))
  // [0] version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
  const spki = expectTag(tbs[(tbs[0]?.tag === 0xa0 ? 1 : 0) + 5], 0x30, 'subjectPublicKeyInfo')
  return der.subarray(spki.start, spki.end)
}
