// CRL -> revocation targets, after the CRL's signature is verified against the
// issuer certificate's public key (nothing is loaded from an unverified CRL).
// Pure apart from node:crypto: takes bytes, returns values or throws FG_ERR_CRL_*.
import { X509Certificate, verify as verifySignature } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, CRLReason, Certificate, Name, RevokedCertificate, Time, id_ce_cRLReasons } from '@peculiar/asn1-x509'
import { fgError } from '../contract/errors.js'
import { serialHex } from '../identity/index.js'
import { requireChildren, requireTlv } from '../identity/der.js'
import type { RevocationEntry } from '../stores/revocations.js'
import { sha256Hex } from '../identity/index.js'

export interface CrlEntry extends RevocationEntry {
  /** lowercase hex, no leading zeros */
  readonly serial: string
}

export interface ParsedCrl {
  /** lowercase hex SHA-256 of the issuer certificate's DER: the key of revoked:serial:<issuer> */
  readonly issuerFingerprint: string
  readonly thisUpdate: string
  /** ISO 8601, or null when the CRL has none */
  readonly nextUpdate: string | null
  readonly entries: readonly CrlEntry[]
}

/**
 * A CRL whose nextUpdate has passed is stale: a newer one may list more
 * certificates. Its entries still hold (a revocation never expires), so it is
 * imported; the caller warns.
 */
export function crlIsStale (crl: Pick<ParsedCrl, 'nextUpdate'>, now = new Date()): boolean {
  return crl.nextUpdate !== null && Date.parse(crl.nextUpdate) < now.getTime()
}

export const REASON_NAMES: Record<number, string> = {
  0: 'unspecified', 1: 'keyCompromise', 2: 'cACompromise', 3: 'affiliationChanged', 4: 'superseded',
  5: 'cessationOfOperation', 6: 'certificateHold', 8: 'removeFromCRL', 9: 'privilegeWithdrawn', 10: 'aACompromise',
}

export const HASH_OF_SIGNATURE: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512',
}

/** PEM (`X509 CRL`) or DER */
export function crlDer (data: Buffer, source: string): Buffer {
  const text = data.toString('latin1')
  if (text.includes('-----BEGIN')) {
    const m = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/.exec(text)
    if (!m) throw fgError('FG_ERR_CRL_INVALID', `${source}: no "X509 CRL" PEM block`)
    return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')
  }
  return data
}

interface CrlParts { tbs: Buffer; algorithm: string; signature: Buffer; issuer: Buffer; thisUpdate: Date; nextUpdate: Date | null; revoked: Buffer[] }

/**
 * Split the CRL by hand: asn1js caps a parse at 10,000 nodes, and a CRL of tens
 * of thousands of entries has more, so each entry is parsed on its own. The
 * signed bytes are the original tbsCertList, never a re-encoding.
 */
function splitCrl (der: Buffer): CrlParts {
  const outer = requireTlv(der, 0, der.length, 'openssl')
  const [tbs, alg, sig] = requireChildren(der, outer, 'openssl')
  if (!tbs || !alg || !sig || sig.tag !== 0x03) throw new Error('not a CertificateList')
  const k = requireChildren(der, tbs, 'openssl')
  let i = k[0]?.tag === 0x02 ? 1 : 0 // version
  i++ // signature AlgorithmIdentifier
  const issuer = k[i++]
  const thisUpdate = k[i++]
  if (!issuer || !thisUpdate) throw new Error('truncated tbsCertList')
  const nextUpdate = k[i] && (k[i]!.tag === 0x17 || k[i]!.tag === 0x18) ? k[i++]! : null
  const list = k[i]?.tag === 0x30 ? k[i]! : null
  const slice = (t: { start: number; end: number }) => der.subarray(t.start, t.end)
  return {
    tbs: slice(tbs),
    algorithm: AsnConvert.parse(slice(alg), AlgorithmIdentifier).algorithm,
    signature: der.subarray(sig.contentStart + 1, sig.end), // skip the unused-bits byte
    issuer: slice(issuer),
    thisUpdate: AsnConvert.parse(slice(thisUpdate), Time).getTime(),
    nextUpdate: nextUpdate ? AsnConvert.parse(slice(nextUpdate), Time).getTime() : null,
    revoked: list ? requireChildren(der, list, 'openssl').map(slice) : [],
  }
}

export function parseCrl (data: Buffer, issuerPem: string, source = 'CRL', issuerSource = '--issuer'): ParsedCrl {
  let issuer: X509Certificate
  try { issuer = new X509Certificate(issuerPem) } catch (err) {
    throw fgError('FG_ERR_PEM_INVALID', `${issuerSource}: not a PEM certificate`, err)
  }
  const der = crlDer(data, source)
  let crl: CrlParts
  try {
    crl = splitCrl(der)
  } catch (err) {
    throw fgError('FG_ERR_CRL_INVALID', `${source}: not a DER or PEM X.509 CRL (${(err as Error).message})`, err)
  }
  const alg = crl.algorithm
  const hash = HASH_OF_SIGNATURE[alg]
  if (!hash) throw fgError('FG_ERR_CRL_INVALID', `${source}: signature algorithm ${alg} is not supported (ECDSA or RSA PKCS#1 v1.5 with SHA-2)`)
  // Signature first: nothing from an unverified CRL is believed, not even its issuer name.
  let ok: boolean
  // A signature too mangled to decode is simply a signature that does not hold.
  try { ok = verifySignature(hash, crl.tbs, issuer.publicKey, crl.signature) } catch { ok = false }
  if (!ok) throw fgError('FG_ERR_CRL_SIGNATURE', `${source}: signature does not verify with the public key of ${issuerSource} (${issuer.subject.replace(/\n/g, ', ')})`)
  const canonical = (nameDer: Uint8Array | ArrayBuffer) => Buffer.from(AsnConvert.serialize(AsnConvert.parse(nameDer, Name)))
  const certSubject = canonical(AsnConvert.serialize(AsnConvert.parse(issuer.raw, Certificate).tbsCertificate.subject))
  if (!canonical(crl.issuer).equals(certSubject)) throw fgError('FG_ERR_CRL_SIGNATURE', `${source}: issuer name differs from the subject of ${issuerSource}`)
  const entries: CrlEntry[] = []
  for (const entryDer of crl.revoked) {
    let rc: RevokedCertificate
    try { rc = AsnConvert.parse(entryDer, RevokedCertificate) } catch (err) {
      throw fgError('FG_ERR_CRL_INVALID', `${source}: entry ${entries.length + 1} cannot be parsed`, err)
    }
    let reason = 'unspecified'
    for (const ext of rc.crlEntryExtensions ?? []) {
      if (ext.extnID !== id_ce_cRLReasons) continue
      try { reason = REASON_NAMES[AsnConvert.parse(ext.extnValue.buffer, CRLReason).reason] ?? 'unspecified' } catch { /* keep unspecified */ }
    }
    // removeFromCRL (delta CRLs) un-revokes: never loaded as a revocation
    if (reason === 'removeFromCRL') continue
    entries.push({ serial: serialHex(rc.userCertificate), reason, revokedAt: rc.revocationDate.getTime().toISOString() })
  }
  return {
    issuerFingerprint: sha256Hex(issuer.raw),
    thisUpdate: crl.thisUpdate.toISOString(),
    nextUpdate: crl.nextUpdate?.toISOString() ?? null,
    entries,
  }
}
