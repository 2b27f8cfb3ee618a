// The one DER reader (src/identity/der.ts): its two length rules, and its two
// calling styles (null / DerError) agreeing on every input.
import { expect } from 'chai'
import { randomInt } from 'node:crypto'
import { children, readTlv, requireChildren, requireTlv, DerError, type LengthRule, type Tlv } from '../../../src/identity/der.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

/** what the throwing form did: the Tlv, or the DerError's message */
function thrown (fn: () => Tlv | Tlv[]): Tlv | Tlv[] | string {
  try { return fn() } catch (err) {
    expect(err, String(err)).to.be.instanceOf(DerError)
    return (err as DerError).message
  }
}

describe('identity: the DER reader', () => {
  it('keeps header and content offsets', () => {
    expect(readTlv(hex('ff 30 03 02 01 05'), 1, 6, 'der')).to.deep.equal({ tag: 0x30, start: 1, contentStart: 3, end: 6 })
    const long = Buffer.concat([hex('04 81 80'), Buffer.alloc(0x80)])
    expect(readTlv(long, 0, long.length, 'der')).to.deep.equal({ tag: 0x04, start: 0, contentStart: 3, end: 0x83 })
  })

  it("'der' refuses non-minimal lengths; 'openssl' reads them as OpenSSL reads a certificate", () => {
    const content = (n: number): Buffer => Buffer.alloc(n, 0x61)
    const cases: Array<[string, Buffer, number]> = [
      ['long form for a short length', Buffer.concat([hex('04 81 05'), content(5)]), 5],
      ['a leading zero octet', Buffer.concat([hex('04 82 00 80'), content(0x80)]), 0x80],
      ['four length octets', Buffer.concat([hex('04 84 00 00 00 05'), content(5)]), 5],
    ]
    for (const [what, bytes, length] of cases) {
      expect(readTlv(bytes, 0, bytes.length, 'der'), what).to.equal(null)
      expect(() => requireTlv(bytes, 0, bytes.length, 'der'), what).to.throw(DerError)
      const t = requireTlv(bytes, 0, bytes.length, 'openssl')
      expect(t.end - t.contentStart, what).to.equal(length)
      expect(t.end, what).to.equal(bytes.length)
    }
    for (const lengths of ['der', 'openssl'] as const) {
      expect(readTlv(hex('30 80 00 00'), 0, 4, lengths), 'indefinite').to.equal(null)
      expect(readTlv(hex('04 85 00 00 00 00 01 61'), 0, 8, lengths), 'five length octets').to.equal(null)
      expect(readTlv(hex('1f 01 01 00'), 0, 4, lengths), 'high tag number').to.equal(null)
      expect(readTlv(hex('04 03 61 61'), 0, 4, lengths), 'overrun').to.equal(null)
      expect(readTlv(hex('04 03 61 61 61'), 0, 4, lengths), 'overruns its limit').to.equal(null)
    }
  })

  it('the null and the throwing forms agree on every input (bounded fuzz)', () => {
    const seed = hex('30 1d 31 0b 30 09 06 03 55 04 06 13 02 44 45 31 0e 30 0c 06 03 55 04 03 0c 05 61 62 63 64 65')
    for (let n = 0; n < 5000; n++) {
      const bytes = n % 2 === 0 ? Buffer.from(seed) : Buffer.from(Array.from({ length: randomInt(0, 12) }, () => randomInt(0, 256)))
      if (n % 2 === 0) for (let k = 0; k < 1 + (n % 3); k++) bytes[randomInt(0, bytes.length)] = randomInt(0, 256)
      const lengths: LengthRule = n % 4 < 2 ? 'der' : 'openssl'
      const t = readTlv(bytes, 0, bytes.length, lengths)
      const strict = thrown(() => requireTlv(bytes, 0, bytes.length, lengths))
      if (t === null) { expect(strict).to.be.a('string'); continue }
      expect(strict).to.deep.equal(t)
      const kids = children(bytes, t, lengths)
      const strictKids = thrown(() => requireChildren(bytes, t, lengths))
      if (kids === null) expect(strictKids).to.be.a('string')
      else expect(strictKids).to.deep.equal(kids)
    }
  })
})
