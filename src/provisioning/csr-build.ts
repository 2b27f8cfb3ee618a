// A PKCS#10 CSR made on the car: its own key (generated locally, never sent),
// subject CN=<VIN>, no attributes, signed ECDSA-SHA256. Encoded with the DER
// writer and node:crypto (a car, or the bench's 2,000 of them, should not pay
// @peculiar/x509's milliseconds). Pure apart from the signature.
import { createPublicKey, sign, type KeyObject } from 'node:crypto'
import { TAG } from '../identity/der.js'
import { derTlv } from './der-writer.js'
import { derToPem } from '../pki/pem.js'

const OIDS: Readonly<Record<string, string>> = { CN: '550403', OU: '55040b', O: '55040a', C: '550406' }
const ECDSA_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex')

/** a CSR (PEM) for `key` (a P-256 private key); subject attributes in order, default [['CN', cn]] */
export function buildCsr (key: KeyObject, subject: ReadonlyArray<readonly [string, string]>): string {
  const rdns = subject.map(([name, value]) => {
    const oid = OIDS[name]
    if (oid === undefined) throw new Error(`unsupported subject attribute ${name}`)
    return derTlv(TAG.SET, [derTlv(TAG.SEQUENCE, [derTlv(TAG.OID, [Buffer.from(oid, 'hex')]), derTlv(TAG.UTF8_STRING, [Buffer.from(value, 'utf8')])])])
  })
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' })
  const info = derTlv(TAG.SEQUENCE, [
    Buffer.from('020100', 'hex'), // version 0
    derTlv(TAG.SEQUENCE, rdns),
    spki,
    Buffer.from('a000', 'hex'), // [0] no attributes
  ])
  const signature = sign('sha256', info, { key, dsaEncoding: 'der' })
  return derToPem(derTlv(TAG.SEQUENCE, [info, ECDSA_SHA256, derTlv(TAG.BIT_STRING, [Buffer.from([0]), signature])]), 'CERTIFICATE REQUEST')
}
