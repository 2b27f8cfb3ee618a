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
})
