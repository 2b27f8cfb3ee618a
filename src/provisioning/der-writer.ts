// A minimal DER writer for the provisioning hot path: the constant parts of a
// certificate are encoded once with the @peculiar/asn1-x509 schemas, and the
// per-request parts (subject, key, validity, serial) written here and spliced
// in (issuer.ts); a CSR is read with identity/der.ts. Pure.
import { TAG } from '../identity/der.js'

export function derLength (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

export function derTlv (tag: number, parts: readonly Uint8Array[]): Buffer {
  const body = Buffer.concat(parts)
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body])
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (whole seconds, Z) */
export function derTime (d: Date): Buffer {
  const iso = d.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z'
  return d.getUTCFullYear() < 2050
    ? derTlv(TAG.UTC_TIME, [Buffer.from(digits.slice(2), 'latin1')])
    : derTlv(TAG.GENERALIZED_TIME, [Buffer.from(digits, 'latin1')])
}
