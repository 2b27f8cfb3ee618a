// The one DER reader, for both hot paths: a client certificate on CONNECT
// (parse.ts, signed-parts.ts) and a CSR on the provisioner (provisioning/csr.ts,
// issuer.ts). asn1js decodes everything: ~440 µs per certificate through
// @peculiar/asn1-schema (~15% of an mTLS connect), ~100 µs for fromBER alone on
// a 289-byte CSR (half of what verify + sign cost). This reads only the TLVs
// asked for: definite lengths, single-byte tags, each TLV bounded by its
// container; anything else is refused, never half-read. readTlv/children
// return null (provisioning answers bad_csr), requireTlv/requireChildren throw
// a DerError (the connect path refuses the certificate): one core, plus one
// check. It sits in identity, the lower of the two (provisioning imports
// identity already). Pure. test/unit/identity/der-oracle.test.ts checks it
// against the asn1-schema parse, der.test.ts the two styles and length rules.

export interface Tlv {
  readonly tag: number
  /** offset of the first byte of the TLV (its tag) */
  readonly start: number
  /** offset of the first content byte */
  readonly contentStart: number
  /** offset just past the content */
  readonly end: number
}

export class DerError extends Error {}

/**
 * How a length may be encoded.
 * 'der': X.690 10.1, the minimal definite form, at most 3 octets (16 MiB): a CSR, and what we build.
 * 'openssl': any definite form of at most 4 octets, minimal or not: a certificate (or CRL) from
 *   another encoder that OpenSSL accepted with a non-minimal length is read, not refused. Narrower
 *   than OpenSSL (which skips leading zero octets beyond 4): such a length is refused, never misread.
 */
export type LengthRule = 'der' | 'openssl'
// No argument has a default: V8 calls a function given fewer arguments than it
// declares measurably slower (~7% on a walk of a CSR), and each read names its rule.

// Why the last read returned null: the throwing forms raise it, so the null
// form needs no error object and the throwing one no second look at the bytes.
let problem = ''

/** the TLV at `offset`, which must end within `limit`; null when it is malformed */
export function readTlv (buf: Uint8Array, offset: number, limit: number, lengths: LengthRule): Tlv | null {
  if (offset + 2 > limit) { problem = 'truncated TLV'; return null }
  const tag = buf[offset]!
  if ((tag & 0x1f) === 0x1f) { problem = 'high tag number'; return null } // multi-byte tags: not used by a certificate or CSR
  let len = buf[offset + 1]!
  let p = offset + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > (lengths === 'der' ? 3 : 4)) { problem = 'bad length'; return null } // indefinite or absurd
    if (p + n > limit) { problem = 'truncated length'; return null }
    if (lengths === 'der' && buf[p] === 0) { problem = 'non-minimal length'; return null }
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!
    if (lengths === 'der' && len < 0x80) { problem = 'non-minimal length'; return null }
    p += n
  }
  if (p + len > limit) { problem = 'content overruns its container'; return null }
  return { tag, start: offset, contentStart: p, end: p + len }
}

/** the TLVs directly inside a constructed TLV, in order; null when any is malformed or they do not fill it */
export function children (buf: Uint8Array, parent: Tlv, lengths: LengthRule): Tlv[] | null {
  const out: Tlv[] = []
  let p = parent.contentStart
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end, lengths)
    if (t === null) return null
    out.push(t)
    p = t.end
  }
  return out
}

/** readTlv that throws a DerError instead of returning null */
export function requireTlv (buf: Uint8Array, offset: number, limit: number, lengths: LengthRule): Tlv {
  const t = readTlv(buf, offset, limit, lengths)
  if (t === null) throw new DerError(problem)
  return t
}

/** children that throws a DerError instead of returning null */
export function requireChildren (buf: Uint8Array, parent: Tlv, lengths: LengthRule): Tlv[] {
  const out = children(buf, parent, lengths)
  if (out === null) throw new DerError(problem)
  return out
}

/** requireTlv / requireChildren with the rule for certificates and CRLs ('openssl') */
export const certTlv = (buf: Uint8Array, offset: number, limit: number): Tlv => requireTlv(buf, offset, limit, 'openssl')
export const certChildren = (buf: Uint8Array, parent: Tlv): Tlv[] => requireChildren(buf, parent, 'openssl')

export function expectTag (t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`expected ${what}`)
  return t
}

/** the whole TLV (tag, length, content), no copy */
export function bytesOf (buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start)
}

/** the content, no copy */
export function contentOf (buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.contentStart, t.end - t.contentStart)
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

export function decodeOid (buf: Uint8Array, t: Tlv): string {
  if (t.end <= t.contentStart) throw new DerError('empty OID')
  const arcs: number[] = []
  let value = 0
  for (let i = t.contentStart; i < t.end; i++) {
    const b = buf[i]!
    value = value * 128 + (b & 0x7f)
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large')
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = value < 40 ? 0 : value < 80 ? 1 : 2
        arcs.push(first, value - first * 40)
      } else arcs.push(value)
      value = 0
    } else if (i === t.end - 1) throw new DerError('truncated OID')
  }
  return arcs.join('.')
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const utf16be = new TextDecoder('utf-16be', { fatal: true })

/** A directory string; anything else (or undecodable) becomes '#<hex>', which the identity check refuses. */
export function decodeString (buf: Uint8Array, t: Tlv): string {
  const bytes = buf.subarray(t.contentStart, t.end)
  try {
    switch (t.tag) {
      case 0x0c: return utf8.decode(bytes) // UTF8String
      case 0x13: case 0x16: case 0x12: case 0x1a: // Printable, IA5, Numeric, Visible
        for (const b of bytes) if (b > 0x7f) throw new DerError('not ASCII')
        return Buffer.from(bytes).toString('latin1')
      case 0x14: return Buffer.from(bytes).toString('latin1') // TeletexString, as asn1js reads it
      case 0x1e: return utf16be.decode(bytes) // BMPString
      case 0x1c: { // UniversalString (UTF-32BE)
        if (bytes.length % 4) throw new DerError('bad UniversalString')
        let s = ''
        for (let i = 0; i < bytes.length; i += 4) s += String.fromCodePoint(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0)
        return s
      }
    }
  } catch { /* fall through: undecodable */ }
  return '#' + Buffer.from(bytes).toString('hex')
}

/** UTCTime or GeneralizedTime (DER: always UTC, 'Z'). */
export function decodeTime (buf: Uint8Array, t: Tlv): Date {
  const s = Buffer.from(buf.subarray(t.contentStart, t.end)).toString('latin1')
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : t.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null
  if (!m) throw new DerError('bad time')
  let year = Number(m[1])
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])))
}
