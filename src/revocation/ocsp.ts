// OCSP (RFC 6960) as values: the request for one certificate (unsigned, no
// nonce: RFC 5019's lightweight profile, so answers may be cached) and the
// checks of a response: status successful, a basic response, signed by the
// issuing CA itself or by a responder certificate that CA issued for OCSP
// signing (id-kp-OCSPSigning, within its validity), and the single response for
// our CertID, within thisUpdate .. nextUpdate. Pure apart from node:crypto;
// the schemas are @peculiar/asn1-ocsp's.
import { X509Certificate, createHash, verify as verifySignature } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509'
import {
  BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, OCSPResponseStatus, Request, TBSRequest,
  id_kp_OCSPSigning, id_pkix_ocsp_basic,
} from '@peculiar/asn1-ocsp'
import { serialHex } from '../identity/index.js'
import { certChildren, certTlv, expectTag } from '../identity/der.js'
import { issuedBy, validAt } from '../pki/chain.js'
import { HASH_OF_SIGNATURE, REASON_NAMES } from './crl.js'

const SHA1 = '1.3.14.3.2.26'
const HASH_NAMES: Record<string, string> = { [SHA1]: 'sha1', '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' }
/** how far a responder's clock may run ahead of ours */
const CLOCK_SKEW_MS = 5 * 60_000

export type OcspCertStatus =
  | { readonly status: 'good' }
  | { readonly status: 'revoked'; readonly revokedAt: string; readonly reason: string }
  | { readonly status: 'unknown' }

export type OcspAnswer = OcspCertStatus & {
  readonly thisUpdate: number
  /** ms; null when the responder gave none (newer information is always available) */
  readonly nextUpdate: number | null
}

/** the issuer's subject Name and public key bits, as CertID hashes them */
function issuerParts (issuer: X509Certificate): { name: Buffer; key: Buffer } {
  const der = issuer.raw
  const tbs = certChildren(der, expectTag(certChildren(der, expectTag(certTlv(der, 0, der.length), 0x30, 'Certificate'))[0], 0x30, 'TBSCertificate'))
  const i = tbs[0]?.tag === 0xa0 ? 1 : 0
  const subject = expectTag(tbs[i + 4], 0x30, 'subject')
  const spki = certChildren(der, expectTag(tbs[i + 5], 0x30, 'subjectPublicKeyInfo'))
  const bits = expectTag(spki[1], 0x03, 'subjectPublicKey')
  return { name: der.subarray(subject.start, subject.end), key: der.subarray(bits.contentStart + 1, bits.end) }
}

function hashOf (alg: string, data: Uint8Array): Buffer {
  return createHash(alg).update(data).digest()
}

/** the INTEGER content octets of a serial in lowercase hex (a leading 00 when the top bit is set) */
function serialBytes (serial: string): ArrayBuffer {
  let hex = serial.length % 2 === 1 ? '0' + serial : serial
  if (parseInt(hex.slice(0, 2), 16) >= 0x80) hex = '00' + hex
  const b = Buffer.from(hex, 'hex')
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer
}

/** The DER OCSPRequest for certificate `serial` (lowercase hex) issued by `issuer`: one CertID (SHA-1), unsigned. */
export function ocspRequest (issuer: X509Certificate, serial: string): Buffer {
  const { name, key } = issuerParts(issuer)
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA1, parameters: null }),
    issuerNameHash: new OctetString(hashOf('sha1', name)),
    issuerKeyHash: new OctetString(hashOf('sha1', key)),
    serialNumber: serialBytes(serial),
  })
  const req = new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId })] }) })
  return Buffer.from(AsnConvert.serialize(req))
}

/** does this CertID (in whatever hash the responder used) name `serial` under `issuer`? */
function sameCertId (id: CertID, issuer: X509Certificate, serial: string): boolean {
  const alg = HASH_NAMES[id.hashAlgorithm.algorithm]
  if (alg === undefined || serialHex(id.serialNumber) !== serial) return false
  const { name, key } = issuerParts(issuer)
  return hashOf(alg, name).equals(Buffer.from(id.issuerNameHash.buffer)) && hashOf(alg, key).equals(Buffer.from(id.issuerKeyHash.buffer))
}

/** the keys that may sign a response about `issuer`'s certificates: its own, then delegated responders it issued */
function signersOf (basic: BasicOCSPResponse, issuer: X509Certificate, now: number): X509Certificate[] {
  const out = [issuer]
  for (const c of basic.certs ?? []) {
    let cert: X509Certificate
    try { cert = new X509Certificate(Buffer.from(AsnConvert.serialize(c as Certificate))) } catch { continue }
    if (cert.raw.equals(issuer.raw)) continue
    // delegated: issued by the CA, for OCSP signing, valid now (RFC 6960 4.2.2.2)
    if (issuedBy(cert, issuer) && (cert.keyUsage ?? []).includes(id_kp_OCSPSigning) && validAt(cert, now)) out.push(cert)
  }
  return out
}

/**
 * The answer of a DER OCSPResponse about `serial` under `issuer`, or throws an
 * Error saying what is wrong with it (the caller treats it as no answer).
 */
export function parseOcspResponse (der: Uint8Array, issuer: X509Certificate, serial: string, now: number): OcspAnswer {
  let res: OCSPResponse
  try { res = AsnConvert.parse(der, OCSPResponse) } catch { throw new Error('not an OCSP response') }
  if (res.responseStatus !== OCSPResponseStatus.successful) throw new Error(`responder status ${OCSPResponseStatus[res.responseStatus] ?? res.responseStatus}`)
  if (res.responseBytes?.responseType !== id_pkix_ocsp_basic) throw new Error('not a basic OCSP response')
  let basic: BasicOCSPResponse
  try { basic = AsnConvert.parse(res.responseBytes.response.buffer, BasicOCSPResponse) } catch { throw new Error('basic OCSP response cannot be parsed') }
  const hash = HASH_OF_SIGNATURE[basic.signatureAlgorithm.algorithm]
  if (hash === undefined) throw new Error(`signature algorithm ${basic.signatureAlgorithm.algorithm} not supported`)
  const signed = Buffer.from(basic.tbsResponseDataRaw ?? AsnConvert.serialize(basic.tbsResponseData))
  const signature = Buffer.from(basic.signature)
  const signer = signersOf(basic, issuer, now).find((c) => {
    try { return verifySignature(hash, signed, c.publicKey, signature) } catch { return false }
  })
  if (signer === undefined) throw new Error('signature does not verify with the issuing CA or a responder certificate it issued for OCSP signing')
  const single = basic.tbsResponseData.responses.find((r) => sameCertId(r.certID, issuer, serial))
  if (single === undefined) throw new Error('no answer about this certificate in the response')
  const thisUpdate = single.thisUpdate.getTime()
  const nextUpdate = single.nextUpdate?.getTime() ?? null
  if (thisUpdate > now + CLOCK_SKEW_MS) throw new Error(`thisUpdate ${single.thisUpdate.toISOString()} is in the future`)
  if (nextUpdate !== null && nextUpdate < now) throw new Error(`stale answer: nextUpdate ${single.nextUpdate!.toISOString()} passed`)
  const s = single.certStatus
  if (s.revoked !== undefined) {
    return { status: 'revoked', revokedAt: s.revoked.revocationTime.toISOString(), reason: REASON_NAMES[s.revoked.revocationReason?.reason ?? 0] ?? 'unspecified', thisUpdate, nextUpdate }
  }
  if (s.good !== undefined) return { status: 'good', thisUpdate, nextUpdate }
  return { status: 'unknown', thisUpdate, nextUpdate }
}
