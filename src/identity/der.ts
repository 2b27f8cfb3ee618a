// A strict, minimal DER reader for the connect path. The @peculiar/asn1-schema
// parse costs ~440 µs per certificate (asn1js decodes everything): ~15% of an
// mTLS connect. This reads only the TLVs the Identity needs and throws on
// anything malformed (indefinite lengths, high tag numbers, overruns), so a bad
// certificate is refused, never half-read. test/unit/identity/der-oracle.test.ts
// checks it against the asn1-schema parse.

export interface Tlv {
  readonly tag: number
  /** first byte of the content */
  readonly start: number
  /** one past the last byte of the content */
  readonly end: number
}

export class DerError extends Error {}

export function readTlv (buf: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new DerError('truncated TLV')
  const tag = buf[pos]!
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag number')
  let len = buf[pos + 1]!
  let start = pos + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4) throw new DerError('bad length')
    if (start + n > limit) throw new DerError('truncated length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!
    start += n
  }
  const end = start + len
  if (end > limit) throw new DerError('content overruns its container')
  return { tag, start, end }
}

/** The TLVs directly inside a constructed TLV. */
export function children (buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = []
  let pos = parent.start
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end)
    out.push(t)
    pos = t.end
  }
  return out
}

export function expectTag (t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t || t.tag !== tag) throw new DerError(`expected ${what}`)
  return t
}

export function decodeOid (buf: Uint8Array, t: Tlv): string {
  if (t.end <= t.start) throw new DerError('empty OID')
  const arcs: number[] = []
  let value = 0
  for (let i = t.start; i < t.end; i++) {
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
  const bytes = buf.subarray(t.start, t.end)
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
  const s = Buffer.from(buf.subarray(t.start, t.end)).toString('latin1')
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : t.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null
  if (!m) throw new DerError('bad time')
  let year = Number(m[1])
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])))
}
