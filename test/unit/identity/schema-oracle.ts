// The asn1-schema reading of a certificate: the oracle that src/identity/der.ts
// (the fast reader on the connect path) is checked against.
import { createHash } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import {
  Certificate, type Name, ExtendedKeyUsage, SubjectAlternativeName, CertificatePolicies, KeyUsage, KeyUsageFlags,
  id_ce_extKeyUsage, id_ce_subjectAltName, id_ce_certificatePolicies, id_ce_keyUsage,
  AuthorityInfoAccessSyntax, id_pe_authorityInfoAccess, id_ad_ocsp, CRLDistributionPoints, id_ce_cRLDistributionPoints,
} from '@peculiar/asn1-x509'
import type { NameAttributes, ParsedCertificate } from '../../../src/identity/index.js'

function sha256Hex (der: Uint8Array): string { return createHash('sha256').update(der).digest('hex') }
function serialHex (bytes: ArrayBuffer | Uint8Array): string {
  const hex = Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex').replace(/^0+/, '')
  return hex === '' ? '0' : hex
}

const ATTRIBUTE_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.11': 'OU', '2.5.4.10': 'O', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST',
  '2.5.4.5': 'serialNumber', '2.5.4.9': 'street', '2.5.4.12': 'title', '2.5.4.4': 'SN', '2.5.4.42': 'GN',
  '1.2.840.113549.1.9.1': 'emailAddress', '0.9.2342.19200300.100.1.25': 'DC', '0.9.2342.19200300.100.1.1': 'UID',
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

export function parseCertificateWithSchemas (der: Uint8Array): ParsedCertificate {
  const cert = AsnConvert.parse(der, Certificate)
  const tbs = cert.tbsCertificate
  let eku: string[] | null = null
  let policies: string[] = []
  let digitalSignature: boolean | null = null
  const ocsp: string[] = []
  const crl: string[] = []
  const san = { dns: [] as string[], uri: [] as string[], ip: [] as string[], email: [] as string[] }
  for (const ext of tbs.extensions ?? []) {
    const value = ext.extnValue.buffer
    if (ext.extnID === id_ce_extKeyUsage) {
      eku = [...AsnConvert.parse(value, ExtendedKeyUsage)]
    } else if (ext.extnID === id_ce_keyUsage) {
      digitalSignature = (AsnConvert.parse(value, KeyUsage).toNumber() & KeyUsageFlags.digitalSignature) !== 0
    } else if (ext.extnID === id_ce_certificatePolicies) {
      policies = AsnConvert.parse(value, CertificatePolicies).map((p) => p.policyIdentifier)
    } else if (ext.extnID === id_pe_authorityInfoAccess) {
      for (const ad of AsnConvert.parse(value, AuthorityInfoAccessSyntax)) {
        if (ad.accessMethod === id_ad_ocsp && ad.accessLocation.uniformResourceIdentifier !== undefined) ocsp.push(ad.accessLocation.uniformResourceIdentifier)
      }
    } else if (ext.extnID === id_ce_cRLDistributionPoints) {
      for (const dp of AsnConvert.parse(value, CRLDistributionPoints)) {
        for (const gn of dp.distributionPoint?.fullName ?? []) if (gn.uniformResourceIdentifier !== undefined) crl.push(gn.uniformResourceIdentifier)
      }
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
    digitalSignature,
    policies: Object.freeze(policies),
    san: Object.freeze({ dns: Object.freeze(san.dns), uri: Object.freeze(san.uri), ip: Object.freeze(san.ip), email: Object.freeze(san.email) }),
    selfIssued: subjectDer.equals(issuerDer),
    ocsp: Object.freeze(ocsp),
    crl: Object.freeze(crl),
  })
}

