// A minimal strict DER reader and writer for the provisioning hot path.
// Why not only the asn1 schemas: asn1js.fromBER alone costs ~100 us on a
// 289-byte CSR, half of what verify + sign cost (bench/provisioning.ts), so the
// CSR is framed here (definite lengths, single-byte tags, bounds checked; any
// deviation is "not DER" -> null) and the constant parts of a certificate are
// encoded once with the @peculiar/asn1-x509 schemas, then spliced. Pure.

export interface Tlv {
  readonly tag: number
  /** offset of the first byte of the TLV */
  readonly start: number
  /** offset of the first content byte */
  readonly contentStart: number
  /** offset just past the content */
  readonly end: number
}

/** the TLV at `offset`, which must end within `limit`; null when it is not well-formed DER */
export function readTlv (buf: Uint8Array, offset: number, limit = buf.length): Tlv | null {
  if (offset + 2 > limit) return null
  const tag = buf[offset]!
  if ((tag & 0x1f) === 0x1f) return null // multi-byte tags: not used by a CSR
  let len = buf[offset + 1]!
  let p = offset + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 3 || p + n > limit) return null // indefinite or absurd lengths
    if (buf[p] === 0) return null // DER: minimal length encoding
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!
    if (len < 0x80) return null
    p += n
  }
  if (p + len > limit) return null
  return { tag, start: offset, contentStart: p, end: p + len }
}

/** the TLVs directly inside a constructed TLV, in order; null when any is malformed or they do not fill it */
export function children (buf: Uint8Array, parent: Tlv): Tlv[] | null {
  const out: Tlv[] = []
  let p = parent.contentStart
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end)
    if (t === null) return null
    out.push(t)
    p = t.end
  }
  return out
}

export function bytesOf (buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start)
}

export function contentOf (buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.contentStart, t.end - t.contentStart)
}

// ---- writer ----

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

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
  CONTEXT_0: 0xa0,
  CONTEXT_3: 0xa3,
} as const

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (whole seconds, Z) */
export function derTime (d: Date): Buffer {
  const iso = d.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) + 'Z'
  return d.getUTCFullYear() < 2050
    ? derTlv(TAG.UTC_TIME, [Buffer.from(digits.slice(2), 'latin1')])
    : derTlv(TAG.GENERALIZED_TIME, [Buffer.from(digits, 'latin1')])
}
