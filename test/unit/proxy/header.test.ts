// The PROXY header scanner: every byte hostile, nothing partial accepted, sizes
// bounded before anything is buffered (src/proxy/header.ts).
import { expect } from 'chai'
import { scanProxyHeader, encodeV1, encodeV2, V1_MAX_BYTES, V2_MAX_LENGTH, type HeaderScan } from '../../../src/proxy/header.js'

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
const v2 = (verCmd: number, famProto: number, body: Buffer): Buffer => {
  const head = Buffer.from([verCmd, famProto, 0, 0]); head.writeUInt16BE(body.length, 2)
  return Buffer.concat([SIG, head, body])
}
const done = (scan: HeaderScan) => { expect(scan.state, JSON.stringify(scan)).to.equal('done'); return scan as Extract<HeaderScan, { state: 'done' }> }

describe('PROXY header scanner', () => {
  describe('v1', () => {
    it('reads a TCP4 line and says where the client stream starts', () => {
      const line = encodeV1('IPv4', '192.0.2.7', 51234, '10.0.0.1', 8883)
      const s = done(scanProxyHeader(Buffer.concat([line, Buffer.from([0x16, 0x03, 0x01])])))
      expect(s.length).to.equal(line.length)
      expect(s.header).to.deep.equal({ command: 'proxy', version: 1, family: 'IPv4', address: '192.0.2.7', port: 51234 })
    })

    it('reads TCP6 and writes the address in canonical form (one key per car for the limits)', () => {
      const s = done(scanProxyHeader(Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:7 2001:db8::1 1 8883\r\n')))
      expect(s.header).to.include({ family: 'IPv6', address: '2001:db8::7', port: 1 })
      const mapped = done(scanProxyHeader(Buffer.from('PROXY TCP6 ::ffff:192.0.2.9 ::1 65535 8883\r\n')))
      expect(mapped.header).to.include({ address: '192.0.2.9', port: 65535 })
    })

    it('takes UNKNOWN as "the peer\'s own address"', () => {
      expect(done(scanProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).header).to.deep.equal({ command: 'local', version: 1 })
      expect(done(scanProxyHeader(Buffer.from('PROXY UNKNOWN ffff:f...f ffff:f...f 65535 65535\r\n'))).header.command).to.equal('local')
    })

    it('waits for more on every strict prefix of a valid line, and never accepts one', () => {
      const line = encodeV1('IPv4', '255.255.255.255', 65535, '255.255.255.255', 65535)
      for (let n = 1; n < line.length; n++) expect(scanProxyHeader(line.subarray(0, n)).state, `${n} bytes`).to.equal('partial')
      expect(scanProxyHeader(line).state).to.equal('done')
    })

    it('refuses a line longer than 107 bytes without waiting for its end', () => {
      const long = Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(V1_MAX_BYTES))
      expect(scanProxyHeader(long.subarray(0, V1_MAX_BYTES)).state).to.equal('invalid')
      expect(scanProxyHeader(long.subarray(0, V1_MAX_BYTES - 1)).state).to.equal('partial')
      // exactly 107 bytes with its CRLF is the largest taken
      const max = Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(V1_MAX_BYTES - 16) + '\r\n')
      expect(max.length).to.equal(V1_MAX_BYTES)
      expect(scanProxyHeader(max).state).to.equal('done')
      const over = Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(V1_MAX_BYTES - 15) + '\r\n')
      expect(scanProxyHeader(over).state).to.equal('invalid')
    })

    for (const [what, text] of [
      ['a bad protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'],
      ['lower case', 'PROXy TCP4 1.2.3.4 5.6.7.8 1 2\r\n'],
      ['an IPv6 address under TCP4', 'PROXY TCP4 ::1 ::1 1 2\r\n'],
      ['an IPv4 address under TCP6', 'PROXY TCP6 1.2.3.4 ::1 1 2\r\n'],
      ['a host name', 'PROXY TCP4 car.example 5.6.7.8 1 2\r\n'],
      ['leading zeros in an address', 'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'],
      ['an IPv6 zone', 'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'],
      ['a port over 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'],
      ['a port with a sign', 'PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n'],
      ['a port with a leading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'],
      ['two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'],
      ['a field missing', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'],
      ['a field too many', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'],
      ['LF without CR', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'],
      ['CR without LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX'],
      ['a NUL byte', 'PROXY TCP4 1.2.3.4\u0000 5.6.7.8 1 2\r\n'],
      ['"PROXY" without its space', 'PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ] as const) {
      it(`refuses ${what}`, () => {
        const s = scanProxyHeader(Buffer.from(text, 'latin1'))
        expect(s.state, JSON.stringify(s)).to.equal('invalid')
      })
    }
  })

  describe('v2', () => {
    it('reads PROXY over TCP4 and skips its TLVs', () => {
      const header = encodeV2({ family: 'IPv4', address: '198.51.100.20', port: 40000, destination: '10.0.0.1', destinationPort: 8883 })
      expect(done(scanProxyHeader(header)).header).to.deep.equal({ command: 'proxy', version: 2, family: 'IPv4', address: '198.51.100.20', port: 40000 })
      // the same with a TLV (type 0x04 NOOP, 3 bytes) after the addresses
      const withTlv = v2(0x21, 0x11, Buffer.concat([header.subarray(16), Buffer.from([0x04, 0x00, 0x03, 1, 2, 3])]))
      const s = done(scanProxyHeader(Buffer.concat([withTlv, Buffer.from([0x16])])))
      expect(s.length).to.equal(withTlv.length)
      expect(s.header).to.include({ address: '198.51.100.20' })
    })

    it('reads PROXY over TCP6, canonical, IPv4-mapped as IPv4', () => {
      const six = encodeV2({ family: 'IPv6', address: '2001:db8:0:0:1::5', port: 7, destination: '::1', destinationPort: 8883 })
      expect(done(scanProxyHeader(six)).header).to.include({ family: 'IPv6', address: '2001:db8::1:0:0:5', port: 7 })
      const mapped = encodeV2({ family: 'IPv6', address: '::ffff:c000:209', port: 7, destination: '::1', destinationPort: 8883 })
      expect(done(scanProxyHeader(mapped)).header).to.include({ address: '192.0.2.9' })
    })

    it('takes LOCAL (the balancer\'s health check) and PROXY UNSPEC as "the peer\'s own address"', () => {
      expect(done(scanProxyHeader(encodeV2(null))).header).to.deep.equal({ command: 'local', version: 2 })
      expect(done(scanProxyHeader(v2(0x20, 0x11, Buffer.alloc(12)))).header.command).to.equal('local')
      expect(done(scanProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)))).header.command).to.equal('local')
    })

    it('waits for more on every strict prefix, the address block and TLVs included', () => {
      const header = v2(0x21, 0x11, Buffer.concat([Buffer.alloc(12, 1), Buffer.alloc(40)]))
      for (let n = 1; n < header.length; n++) expect(scanProxyHeader(header.subarray(0, n)).state, `${n} bytes`).to.equal('partial')
    })

    it('refuses a length field over the bound as soon as the 16 fixed bytes are in', () => {
      const head = Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0, 0])]); head.writeUInt16BE(V2_MAX_LENGTH + 1, 14)
      expect(scanProxyHeader(head).state).to.equal('invalid')
      head.writeUInt16BE(0xffff, 14)
      expect(scanProxyHeader(head).state).to.equal('invalid')
      head.writeUInt16BE(V2_MAX_LENGTH, 14)
      expect(scanProxyHeader(head).state).to.equal('partial')
    })

    for (const [what, bytes] of [
      ['version 1 in the version nibble', v2(0x11, 0x11, Buffer.alloc(12))],
      ['version 3', v2(0x31, 0x11, Buffer.alloc(12))],
      ['command 2', v2(0x22, 0x11, Buffer.alloc(12))],
      ['PROXY over UDP', v2(0x21, 0x12, Buffer.alloc(12))],
      ['PROXY over a unix socket', v2(0x21, 0x31, Buffer.alloc(216))],
      ['an unknown family', v2(0x21, 0x41, Buffer.alloc(12))],
      ['an address block shorter than TCP4 needs', v2(0x21, 0x11, Buffer.alloc(11))],
      ['an address block shorter than TCP6 needs', v2(0x21, 0x21, Buffer.alloc(35))],
      ['LOCAL with an unknown family', v2(0x20, 0x55, Buffer.alloc(0))],
      ['a broken signature', Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]), Buffer.alloc(4)])],
    ] as const) {
      it(`refuses ${what}`, () => {
        const s = scanProxyHeader(bytes)
        expect(s.state, JSON.stringify(s)).to.equal('invalid')
      })
    }
  })

  it('says "missing" for a TLS ClientHello or MQTT sent without a header', () => {
    expect(scanProxyHeader(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])).state).to.equal('missing')
    expect(scanProxyHeader(Buffer.from([0x10, 0x0c])).state).to.equal('missing')
    expect(scanProxyHeader(Buffer.alloc(0)).state).to.equal('partial')
  })

  it('never throws on random bytes, and a verdict never goes back to "partial" as bytes are added', () => {
    let seed = 7
    const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed }
    for (let k = 0; k < 3000; k++) {
      const start = k % 3 === 0 ? Buffer.from('PROXY ') : k % 3 === 1 ? SIG : Buffer.alloc(0)
      const bytes = Buffer.concat([start, Buffer.from(Array.from({ length: rand() % 140 }, () => rand() % 256))])
      let verdict: string | undefined
      for (let n = 0; n <= bytes.length; n++) {
        const s = scanProxyHeader(bytes.subarray(0, n))
        if (verdict !== undefined && verdict !== 'done') expect(s.state).to.equal(verdict)
        if (s.state !== 'partial') verdict ??= s.state
      }
    }
  })
})
