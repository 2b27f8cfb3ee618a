// The byte-stream guard's header reader (ARCHITECTURE.md "Known pitfalls of the libraries": Aedes has no packet size limit).
import { expect } from 'chai'
import mqttPacket from 'mqtt-packet'
import { PacketScanner } from '../../../src/checks/index.js'

function publish (payloadBytes: number): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic: 'vehicles/X/telemetry/speed', payload: Buffer.alloc(payloadBytes), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket)
}

describe('guard: PacketScanner', () => {
  it('passes a stream of packets that fit, whole and split at every byte', () => {
    const stream = Buffer.concat([publish(10), publish(200), publish(20_000), mqttPacket.generate({ cmd: 'pingreq' })])
    expect(new PacketScanner(32 * 1024).scan(stream)).to.equal(null)
    for (let cut = 1; cut < stream.length; cut += 7) {
      const s = new PacketScanner(32 * 1024)
      expect(s.scan(stream.subarray(0, cut))).to.equal(null)
      expect(s.scan(stream.subarray(cut))).to.equal(null)
    }
    // one byte at a time
    const s = new PacketScanner(32 * 1024)
    for (let i = 0; i < 400; i++) expect(s.scan(stream.subarray(i, i + 1))).to.equal(null)
  })

  it('reports the first packet over the maximum with its announced size and offset', () => {
    const small = publish(10)
    const big = publish(2000)
    const over = new PacketScanner(1024).scan(Buffer.concat([small, big]))
    expect(over).to.deep.equal({ offset: small.length, announced: big.length })
  })

  it('reports an oversize packet from its header alone, split across chunks, before its body', () => {
    const big = publish(16 * 1024 * 1024)
    const s = new PacketScanner(128 * 1024)
    expect(s.scan(big.subarray(0, 2))).to.equal(null) // type byte + first length byte
    const over = s.scan(big.subarray(2, 64))
    expect(over).to.deep.equal({ offset: 0, announced: big.length })
  })

  it('a packet exactly at the maximum passes; one byte more does not', () => {
    const p = publish(1000)
    expect(new PacketScanner(p.length).scan(p)).to.equal(null)
    expect(new PacketScanner(p.length - 1).scan(p)?.announced).to.equal(p.length)
  })

  it('a fifth remaining-length byte is malformed [MQTT-2.2.3]', () => {
    const over = new PacketScanner(256 * 1024 * 1024).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))
    expect(over).to.deep.equal({ offset: 0, announced: -1 })
  })

  it('the largest 4-byte length is read exactly', () => {
    const over = new PacketScanner(1024).scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))
    expect(over?.announced).to.equal(1 + 4 + 268_435_455)
  })

  it('with a limit, stops at the packet boundary after that many headers; the rest scanned next gives the same packets', () => {
    const packets = [publish(10), mqttPacket.generate({ cmd: 'pingreq' }), publish(300), publish(0), publish(20_000), publish(5)]
    const stream = Buffer.concat(packets)
    const boundaries = packets.reduce<number[]>((acc, p) => [...acc, (acc.at(-1) ?? 0) + p.length], [])
    for (let limit = 1; limit <= packets.length; limit++) {
      const s = new PacketScanner(32 * 1024)
      expect(s.scan(stream, limit)).to.equal(null)
      expect([s.end, s.counted, s.completed], `limit ${limit}`).to.deep.equal([limit < packets.length ? boundaries[limit - 1] : stream.length, limit, limit])
      // what was not scanned is scanned next, from the boundary: every packet once
      let at = s.end
      let counted = s.counted
      while (at < stream.length) {
        expect(s.scan(stream.subarray(at), limit)).to.equal(null)
        expect(boundaries.includes(at + s.end) || at + s.end === stream.length).to.equal(true)
        counted += s.counted
        at += s.end
      }
      expect(counted).to.equal(packets.length)
    }
  })

  it('a limit never cuts inside a packet: a body running past the chunk is handed whole, counted where its header ends and completed where it ends', () => {
    const big = publish(20_000)
    const s = new PacketScanner(32 * 1024)
    expect(s.scan(Buffer.concat([big.subarray(0, 100)]), 1)).to.equal(null)
    expect([s.end, s.counted, s.completed]).to.deep.equal([100, 1, 0])
    // the rest of the big one and a small one, limit 1: the body ends the scan's first packet, the next header stops it
    const small = publish(1)
    const rest = Buffer.concat([big.subarray(100), small])
    expect(s.scan(rest, 1)).to.equal(null)
    expect([s.end, s.counted, s.completed]).to.deep.equal([rest.length, 1, 2])
    // a limit of 0 with a body still to skip: the body passes (it is no new packet), the next header stops it
    const t = new PacketScanner(32 * 1024)
    t.scan(big.subarray(0, 100))
    expect(t.scan(rest, 0)).to.equal(null)
    expect([t.end, t.counted, t.completed]).to.deep.equal([big.length - 100, 0, 1])
  })
})
