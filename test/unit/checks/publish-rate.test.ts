// --max-publish-rate: the token bucket (pure, clock passed in) and the
// scanner's cutting of dropped QoS 0 PUBLISHes out of the byte stream.
import { expect } from 'chai'
import mqttPacket from 'mqtt-packet'
import { PacketScanner, PublishRate, EXCESS_SECONDS } from '../../../src/checks/index.js'

const DROP = 1
const CLOSE = 2

function publish (i: number, qos: 0 | 1 = 0): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic: 'vehicles/X/telemetry/speed', payload: Buffer.from(String(i)), qos, messageId: qos ? i + 1 : undefined, retain: false, dup: false } as mqttPacket.IPublishPacket)
}

/** what the scanner keeps of the chunks, chunk by chunk */
function kept (scanner: PacketScanner, chunks: Buffer[]): Buffer {
  const out: Buffer[] = []
  for (const c of chunks) {
    expect(scanner.scan(c)).to.equal(null)
    let from = 0
    const d = scanner.drops
    for (let k = 0; k < d.length; k += 2) { out.push(c.subarray(from, d[k])); from = d[k + 1]! }
    out.push(c.subarray(from))
  }
  return Buffer.concat(out)
}

function payloads (bytes: Buffer): string[] {
  const got: string[] = []
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  parser.on('packet', (p: mqttPacket.Packet) => got.push((p as mqttPacket.IPublishPacket).payload.toString()))
  parser.on('error', (err: Error) => { throw err })
  parser.parse(bytes)
  return got
}

describe('guard: PublishRate (--max-publish-rate)', () => {
  it('passes a burst of 2 s of the rate, drops QoS 0 past it, refills at the rate', () => {
    const r = new PublishRate(10, 0)
    for (let i = 0; i < 20; i++) expect(r.take(0, true)).to.equal(0)
    expect(r.take(0, true)).to.equal(DROP)
    expect(r.dropped).to.equal(1)
    r.refill(500) // 5 tokens
    for (let i = 0; i < 5; i++) expect(r.take(0, true)).to.equal(0)
    expect(r.take(0, true)).to.equal(DROP)
  })

  it('never drops QoS 1/2: they pass into debt, and a debt past the burst closes', () => {
    const r = new PublishRate(10, 0)
    for (let i = 0; i < 20; i++) r.take(1, true)
    for (let i = 0; i < 20; i++) expect(r.take(1, true)).to.equal(0)
    expect(r.take(2, true)).to.equal(CLOSE)
    expect(r.dropped).to.equal(0)
  })

  it('a QoS 0 PUBLISH whose header began in an earlier chunk passes (it can no longer be cut out)', () => {
    const r = new PublishRate(1, 0)
    r.take(0, true); r.take(0, true)
    expect(r.take(0, false)).to.equal(0)
    expect(r.take(0, false)).to.equal(0)
    expect(r.dropped).to.equal(0)
  })

  it(`closes after drops in ${EXCESS_SECONDS} consecutive seconds; a quiet second starts the count again; audited once per run`, () => {
    const r = new PublishRate(1, 0)
    r.take(0, true); r.take(0, true)
    let t = 0
    const overOneSecond = () => {
      t += 1000; r.refill(t)
      let v = r.take(0, true)
      for (let k = 0; k < 5 && v === 0; k++) v = r.take(0, true)
      return v
    }
    expect(r.take(0, true)).to.equal(DROP)
    expect(r.startedRun(1)).to.equal(true)
    // drops in EXCESS_SECONDS - 1 seconds in a row
    for (let s = 1; s < EXCESS_SECONDS - 1; s++) expect(overOneSecond()).to.equal(DROP)
    expect(r.startedRun(1)).to.equal(false)
    // a quiet second: the run is broken
    t += 1000; r.refill(t)
    t += 1000; r.refill(t)
    for (let s = 0; s < EXCESS_SECONDS; s++) expect(overOneSecond()).to.equal(DROP)
    expect(r.startedRun(1)).to.equal(false)
    t += 1000; r.refill(t)
    expect(r.take(0, true)).to.equal(CLOSE)
  })
})

describe('guard: PacketScanner with a publish rate', () => {
  const stream = Buffer.concat(Array.from({ length: 50 }, (_, i) => publish(i)))

  it('cuts the QoS 0 PUBLISHes past the burst out of one chunk, whole', () => {
    const s = new PacketScanner(1024, new PublishRate(10, 0))
    expect(payloads(kept(s, [stream]))).to.deep.equal(Array.from({ length: 20 }, (_, i) => String(i)))
  })

  it('split at every byte: what is kept still parses, packet by packet, in order', () => {
    for (let cut = 1; cut < stream.length; cut += 3) {
      const s = new PacketScanner(1024, new PublishRate(10, 0))
      const got = payloads(kept(s, [stream.subarray(0, cut), stream.subarray(cut)]))
      expect(got.length).to.be.within(20, 21)
      expect(got.slice(0, 20)).to.deep.equal(Array.from({ length: 20 }, (_, i) => String(i)))
    }
    const s = new PacketScanner(1024, new PublishRate(10, 0))
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1))
    expect(payloads(kept(s, bytes)).slice(0, 20)).to.deep.equal(Array.from({ length: 20 }, (_, i) => String(i)))
  })

  it('keeps every QoS 1 PUBLISH and every other packet', () => {
    const mixed = Buffer.concat([...Array.from({ length: 30 }, (_, i) => publish(i, 1)), mqttPacket.generate({ cmd: 'pingreq' })])
    const s = new PacketScanner(1024, new PublishRate(10, 0))
    expect(kept(s, [mixed]).equals(mixed)).to.equal(true)
  })
})
