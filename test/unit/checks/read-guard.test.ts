// The byte-stream guard and the admission of a connection, on an in-process
// stream standing in for the TLS socket (no socket): every byte Aedes would
// read passes the guard's read() first, a packet announcing more than the limit
// is never handed over and closes the stream, and over --max-publish-rate QoS 0
// PUBLISHes are cut out before they are parsed. Fair reads on a real TLS
// connection: at most a turn's share of packets per event-loop turn, the rest
// handed over in the next turns, every byte once and in order.
import { expect } from 'chai'
import { PassThrough } from 'node:stream'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect, createServer, type TLSSocket } from 'node:tls'
import type { AddressInfo, Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { admitConnection, ConnectionLimiter, guardReads, PacketScanner, type AdmitOptions, type Oversize, type RateHandler } from '../../../src/checks/index.js'
import { guardSocketReads, TURN_BUDGET } from '../../../src/checks/read-guard.js'
import { testPki } from '../../harness/pki.js'

/** a readable stream with a peer address, as Aedes gets a TLSSocket */
function stream (remoteAddress = '10.0.0.9'): Socket {
  const s = new PassThrough()
  Object.defineProperty(s, 'remoteAddress', { value: remoteAddress })
  return s as unknown as Socket
}

const pingreq = () => mqttPacket.generate({ cmd: 'pingreq' })
const publish = (i: number, qos: 0 | 1 = 0, size = 1) =>
  mqttPacket.generate({ cmd: 'publish', topic: 'vehicles/X/telemetry/speed', payload: Buffer.alloc(size, 48 + (i % 10)), qos, messageId: qos ? i + 1 : undefined, retain: false, dup: false } as mqttPacket.IPublishPacket)

/** what Aedes would read: the stream's read() until it has nothing */
function readAll (s: Socket): Buffer {
  const out: Buffer[] = []
  for (let chunk = s.read() as Buffer | null; chunk !== null; chunk = s.read() as Buffer | null) out.push(chunk)
  return Buffer.concat(out)
}

describe('checks/read-guard: the byte-stream guard', () => {
  it('hands over packets within the limit unchanged', () => {
    const s = stream()
    const over: Oversize[] = []
    guardReads(s, 100, (o) => over.push(o))
    const bytes = Buffer.concat([pingreq(), publish(1, 0, 50), publish(2, 1, 50)])
    s.push(bytes)
    expect(readAll(s).equals(bytes)).to.equal(true)
    expect(over).to.deep.equal([])
    expect(s.destroyed).to.equal(false)
  })

  it('never hands over a packet announcing more than the limit: the stream is closed and told once', () => {
    const s = stream()
    const over: Oversize[] = []
    guardReads(s, 100, (o) => over.push(o))
    const big = publish(1, 0, 200)
    s.push(Buffer.concat([pingreq(), big.subarray(0, 10)]))
    expect(readAll(s).length).to.equal(0)
    expect(over).to.have.length(1)
    expect(over[0]).to.deep.equal({ offset: 2, announced: big.length })
    expect(s.destroyed).to.equal(true)
  })

  it('a remaining length of five bytes is malformed (announced -1)', () => {
    const s = stream()
    const over: Oversize[] = []
    guardReads(s, 1000, (o) => over.push(o))
    s.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))
    expect(readAll(s).length).to.equal(0)
    expect(over).to.deep.equal([{ offset: 0, announced: -1 }])
    expect(s.destroyed).to.equal(true)
  })

  it('over --max-publish-rate, QoS 0 PUBLISHes past the burst are cut out (and told); QoS 1 ones pass', () => {
    const s = stream()
    const told: Array<[number, boolean]> = []
    const handler: RateHandler = { dropped: (_s, count, first) => told.push([count, first]), closed: () => { throw new Error('not closed') } }
    guardSocketReads(s, 1000, () => {}, { perSecond: 1, handler }) // a burst of 2
    const qos0 = [0, 1, 2, 3, 4].map((i) => publish(i))
    const qos1 = publish(9, 1)
    s.push(Buffer.concat([...qos0, qos1]))
    const got = readAll(s)
    expect(got.equals(Buffer.concat([qos0[0]!, qos0[1]!, qos1]))).to.equal(true)
    expect(told).to.deep.equal([[3, true]])
    expect(s.destroyed).to.equal(false)
  })
})

describe('checks/admitConnection: per-address limit and the guard', () => {
  const options = (limiter: ConnectionLimiter, over: Oversize[] = []): AdmitOptions => ({ limiter, maxPacketSize: 100, onOversize: (o) => { over.push(o) } })

  it('counts connections per address: up to the limit admitted, over it refused at CONNECT, past twice it shed at once', () => {
    const limiter = new ConnectionLimiter(2)
    const opts = options(limiter)
    const admitted = [1, 2].map(() => admitConnection(stream(), opts))
    expect(admitted.map((a) => [a.overLimit, a.count])).to.deep.equal([[false, 1], [false, 2]])
    const over = [3, 4].map(() => admitConnection(stream(), opts))
    expect(over.map((a) => [a.stream !== null, a.overLimit])).to.deep.equal([[true, true], [true, true]])
    const flood = stream()
    const shed = admitConnection(flood, opts)
    expect(shed).to.deep.equal({ stream: null, overLimit: true, count: 5 })
    expect(flood.destroyed).to.equal(true)
    expect(admitConnection(stream('10.0.0.10'), opts).overLimit, 'another address has its own count').to.equal(false)
  })

  it('releases the count when a connection closes', async () => {
    const limiter = new ConnectionLimiter(1)
    const s = stream()
    admitConnection(s, options(limiter))
    expect(limiter.count('10.0.0.9')).to.equal(1)
    s.destroy()
    await new Promise((resolve) => setImmediate(resolve))
    expect(limiter.count('10.0.0.9')).to.equal(0)
    expect(limiter.addresses).to.equal(0)
  })

  it('guards the admitted stream\'s reads', () => {
    const over: Oversize[] = []
    const s = stream()
    const a = admitConnection(s, options(new ConnectionLimiter(5), over))
    expect(a.stream).to.equal(s)
    s.push(publish(1, 0, 500))
    expect(readAll(s).length).to.equal(0)
    expect(over).to.have.length(1)
    expect(s.destroyed).to.equal(true)
  })
})

/** A guarded TLS server and a client to it; `onSocket` gets each server-side socket once guarded. */
async function tlsPair (onSocket: (s: TLSSocket) => void): Promise<{ client: TLSSocket, close: () => void }> {
  const pki = await testPki()
  const server = createServer({ key: readFileSync(join(pki.dir, 'broker', 'key.pem')), cert: readFileSync(join(pki.dir, 'broker', 'cert.pem')) }, (s: TLSSocket) => {
    guardSocketReads(s, 1024, () => { throw new Error('no packet is oversize here') })
    onSocket(s)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'localhost', ca: readFileSync(join(pki.dir, 'root-ca.pem')) })
  await new Promise<void>((resolve, reject) => { client.once('secureConnect', resolve); client.once('error', reject) })
  return { client, close: () => { client.destroy(); server.close() } }
}

/** 120,000 small packets (~255 KB): PINGREQs with a numbered PUBACK every 16th, so order shows in the bytes */
function manySmallPackets (): { bytes: Buffer, count: number } {
  const count = 120_000
  const parts: Buffer[] = []
  for (let i = 0; i < count; i++) parts.push(i % 16 === 0 ? mqttPacket.generate({ cmd: 'puback', messageId: (i >> 4) % 65535 + 1 }) : pingreq())
  return { bytes: Buffer.concat(parts), count }
}

describe('checks/read-guard: fair reads (a real TLS connection)', function () {
  this.timeout(20_000)

  it('a reader that reads until null gets at most a turn\'s share per turn, is woken in the next, and gets every byte once, in order', async () => {
    const { bytes, count } = manySmallPackets()
    const got: Buffer[] = []
    let gotBytes = 0
    const perTurn: number[] = [0]
    let ticking = true
    const tick = () => { if (!ticking) return; perTurn.push(0); setImmediate(tick) }
    setImmediate(tick)
    const counter = new PacketScanner(1024) // counts the packets handed over
    let done: () => void = () => {}
    const all = new Promise<void>((resolve) => { done = resolve })
    const { client, close } = await tlsPair((s) => {
      // greedy: everything read() gives, as a consumer whose packets were all handled at once would take it
      s.on('readable', () => {
        for (let c = s.read() as Buffer | null; c !== null; c = s.read() as Buffer | null) {
          got.push(c)
          gotBytes += c.length
          counter.scan(c)
          perTurn[perTurn.length - 1] += counter.counted
        }
        if (gotBytes >= bytes.length) done()
      })
    })
    try {
      client.write(bytes)
      // bounded: a reader never woken again stalls here
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 10_000))])
      ticking = false
      expect(gotBytes, 'bytes read (a reader never woken stalls short of all)').to.equal(bytes.length)
      expect(Buffer.concat(got).equals(bytes), 'every byte once, in order').to.equal(true)
      // the greedy reader's turns (a tick interval spans at most two of the guard's turns)
      expect(Math.max(...perTurn), 'packets handed over in one event-loop turn').to.be.at.most(2 * TURN_BUDGET)
      expect(perTurn.filter((n) => n > 0).length, 'turns it took').to.be.at.least(Math.ceil(count / (2 * TURN_BUDGET)))
    } finally {
      ticking = false
      close()
    }
  })

  it('a peer that ends right after its flood: every byte is handed over, in order, before \'end\'', async () => {
    const { bytes } = manySmallPackets()
    const got: Buffer[] = []
    let ended: () => void = () => {}
    const end = new Promise<void>((resolve) => { ended = resolve })
    let bytesAtEnd = -1
    const { client, close } = await tlsPair((s) => {
      s.on('readable', () => { for (let c = s.read() as Buffer | null; c !== null; c = s.read() as Buffer | null) got.push(c) })
      s.on('end', () => { bytesAtEnd = Buffer.concat(got).length; ended() })
    })
    try {
      client.end(bytes)
      await Promise.race([end, new Promise((resolve) => setTimeout(resolve, 10_000))])
      expect(bytesAtEnd, 'bytes handed over before \'end\'').to.equal(bytes.length)
      expect(Buffer.concat(got).equals(bytes)).to.equal(true)
    } finally {
      close()
    }
  })

  it('flowing mode is left alone: a \'data\' listener gets every byte once, in order', async () => {
    const { bytes } = manySmallPackets()
    const got: Buffer[] = []
    let gotBytes = 0
    let done: () => void = () => {}
    const all = new Promise<void>((resolve) => { done = resolve })
    const { client, close } = await tlsPair((s) => {
      s.on('data', (c: Buffer) => { got.push(c); gotBytes += c.length; if (gotBytes >= bytes.length) done() })
    })
    try {
      client.write(bytes)
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 10_000))])
      expect(gotBytes).to.equal(bytes.length)
      expect(Buffer.concat(got).equals(bytes)).to.equal(true)
    } finally {
      close()
    }
  })
})
