// DER chain -> Identity. Pure: no sockets, no files. Uses the @peculiar/asn1-*
// schemas (not @peculiar/x509, which costs ~1 ms per certificate: DESIGN pitfalls).
import { createHash } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import {
  Certificate, type Name, ExtendedKeyUsage, SubjectAlternativeName, CertificatePolicies,
  id_ce_extKeyUsage, id_ce_subjectAltName, id_ce_certificatePolicies,
} from '@peculiar/asn1-x509'
import type { CaInfo, Identity, NameAttributes } from './identity.js'

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.11': 'OU', '2.5.4.10': 'O', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.5': 'serialNumber', '2.5.4.9': 'street', '2.5.4.12': 'title', '2.5.4.4': 'SN', '2.5.4.42': 'GN',
  '1.2.840.113549.1.9.1': 'emailAddress', '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID',
}

export function sha256Hex (der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex')
}

/** Serial as lowercase hex without leading zeros (DESIGN Redis schema: 0x01 is `1`). */
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

function attributeText (value: { toString(): string; anyValue?: ArrayBuffer }): string {
  // A value that is not a string type is shown as '#<hex>': the '#' makes the
  // identity check refuse it (fail closed) rather than guess a decoding.
  if (value.anyValue) return '#' + Buffer.from(value.anyValue).toString('hex')
  return value.toString()
}

export function nameAttributes (name: Name): NameAttributes {
  const out: Record<string, string[]> = Object.create(null)
  for (const rdn of name) {
    for (const atv of rdn) {
      const key = ATTRIBUTE_NAMES[atv.type] ?? atv.type
      ;(out[key] ??= []).push(attributeText(atv.value))
    }
  }
  for (const k of Object.keys(out)) Object.freeze(out[k])
  return Object.freeze(out)
}

function ipText (raw: ArrayBuffer): string {
  const b = Buffer.from(raw)
  if (b.length === 4) return [...b].join('.')
  if (b.length === 16) return b.toString('hex').replace(/(.{4})(?!$)/g, '$1:')
  return b.toString('hex')
}

export interface ParsedCertificate {
  readonly fingerprint: string
  readonly serial: string
  readonly subject: NameAttributes
  readonly issuer: NameAttributes
  readonly notBefore: Date
  readonly notAfter: Date
  readonly eku: readonly string[] | null
  readonly policies: readonly string[]
  readonly san: Identity['san']
  readonly selfIssued: boolean
}

export function parseCertificate (der: Uint8Array): ParsedCertificate {
  const cert = AsnConvert.parse(der, Certificate)
  const tbs = cert.tbsCertificate
  let eku: string[] | null = null
  let policies: string[] = []
  const san = { dns: [] as string[], uri: [] as string[], ip: [] as string[], email: [] as string[] }
  for (const ext of tbs.extensions ?? []) {
    const value = ext.extnValue.buffer
    if (ext.extnID === id_ce_extKeyUsage) {
      eku = [...AsnConvert.parse(value, ExtendedKeyUsage)]
    } else if (ext.extnID === id_ce_certificatePolicies) {
      policies = AsnConvert.parse(value, CertificatePolicies).map((p) => p.policyIdentifier)
    } else if (ext.extnID === id_ce_subjectAltName) {
      for (const gn of AsnConvert.parse(value, SubjectAlternativeName)) {
        if (gn.dNSName !== undefined) san.dns.push(gn.dNSName)
        else if (gn.uniformResourceIdentifier !== undefined) san.uri.push(gn.uniformResourceIdentifier)
        else if (gn.rfc822Name !== undefined) san.email.push(gn.rfc822Name)
        else if (gn.iPAddress !== undefined) san.ip.push(typeof gn.iPAddress === 'string' ? gn.iPAddress : ipText(gn.iPAddress as unknown as ArrayBuffer))
      }
    }
  }
  const subjectDer = Buffer.from(AsnConvert.serialize(tbs.subject))
  const issuerDer = Buffer.from(AsnConvert.serialize(tbs.issuer))
  return Object.freeze({
    fingerprint: sha256Hex(der),
    serial: serialHex(tbs.serialNumber),
    subject: nameAttributes(tbs.subject),
    issuer: nameAttributes(tbs.issuer),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    eku: eku ? Object.freeze(eku) : null,
    policies: Object.freeze(policies),
    san: Object.freeze({ dns: Object.freeze(san.dns), uri: Object.freeze(san.uri), ip: Object.freeze(san.ip), email: Object.freeze(san.email) }),
    selfIssued: subjectDer.equals(issuerDer),
  })
}

/**
 * Build the Identity from the verified chain: leaf first, then the CA
 * certificates above it (issuing CA, ..., root). `caInfo` resolves CA
 * certificates parsed once at load (by fingerprint) so a connection parses only its leaf.
 */
export function identityFromChain (chainDer: readonly Uint8Array[], caInfo: (der: Uint8Array) => CaInfo): Identity {
  if (chainDer.length === 0) throw new Error('empty certificate chain')
  const leaf = parseCertificate(chainDer[0]!)
  const chain = chainDer.slice(1).map(caInfo)
  return Object.freeze({
    subject: leaf.subject,
    issuer: leaf.issuer,
    san: leaf.san,
    serial: leaf.serial,
    fingerprint: leaf.fingerprint,
    issuerFingerprint: chain[0]?.fingerprint ?? null,
    chain: Object.freeze(chain),
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    eku: leaf.eku,
    policies: leaf.policies,
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
  })
}
