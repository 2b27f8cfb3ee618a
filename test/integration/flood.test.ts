// Issue 15 item 4: a car flooding QoS 0 telemetry as fast as its socket drains,
// with a backend subscribed and reading, crashed the broker (RangeError in
// mqemitter's released -> _do chain). Bounded: a few seconds, 50k messages.
// Fair reads: with 16 cars' floods buffered at once, a turn of the event loop
// hands Aedes a bounded share (without it: ~50,000 packets a turn, and a
// backend's CONNECT answered only after all 160,000).
import { expect } from 'chai'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { setTimeout as sleep } from 'node:timers/promises'
import type { MqttClient } from 'mqtt'
import type { AedesPublishPacket, Client } from 'aedes'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, connect, end } from '../harness/mqtt.js'
import { randomVins } from '../../src/pki/vin.js'
import { PacketScanner } from '../../src/checks/index.js'
import { MIN_READ_BUDGET, TURN_BUDGET } from '../../src/checks/read-guard.js'
import { connectPacket, flood, publishPacket, rawConnect } from '../../simulator/attack/raw-mqtt.js'

const MAX_MESSAGES = 50_000
const MAX_MS = 4000

function carTls (pki: TestPki, i: number) {
  const dir = pki.vehicle(i)
  return { ca: readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') }
}

async function rawCar (broker: TestBroker, pki: TestPki, i: number, clientId: string): Promise<TLSSocket> {
  const r = await rawConnect({ host: '127.0.0.1', port: broker.port, servername: 'localhost' }, carTls(pki, i), connectPacket({ clientId }))
  if (r.kind !== 'connack' || r.code !== 0) throw new Error(`car ${clientId} refused: ${JSON.stringify(r.kind === 'connack' ? r.code : r.message)}`)
  r.socket.on('data', () => {})
  return r.socket
}

/** payload: the message's sequence number, so order can be checked */
function seq (i: number): Buffer { const b = Buffer.allocUnsafe(4); b.writeUInt32BE(i); return b }

describe('flood: one car writing QoS 0 as fast as its socket drains', function () {
  this.timeout(60_000)
  let pki: TestPki
  let broker: TestBroker
  const open: MqttClient[] = []
  const sockets: TLSSocket[] = []
  before(async () => {
    pki = await testPki()
    // no publish rate here: this is the emitter's flood, not the limit's
    broker = await startTestBroker(pki.dir, { maxConnectionsPerIp: 200, maxPublishRate: 0 })
  })
  afterEach(async () => { await end(...open.splice(0)); for (const s of sockets.splice(0)) s.destroy() })
  after(async () => { await broker?.close() })

  it('keeps the broker up; the backend reading gets the messages in order; a new client is served after', async () => {
    const vin = pki.vins[0]!
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-flood' })
    open.push(backend)
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 0 })
    const topic = `vehicles/${vin}/telemetry/speed`
    let received = 0
    let inOrder = true
    let last = -1
    backend.on('message', (t, payload) => {
      if (t !== topic) return
      received++
      const n = payload.readUInt32BE(0)
      if (n <= last) inOrder = false
      last = n
    })
    const car = await rawCar(broker, pki, 0, vin)
    sockets.push(car)
    const r = await flood(car, (i) => publishPacket(topic, seq(i), 0), MAX_MESSAGES, MAX_MS)
    expect(r.closed, 'the broker closed the flooding car').to.equal(false)
    expect(r.sent).to.be.greaterThan(1000)
    // the broker still answers: a new car connects and its message reaches the backend
    const other = await connect(broker.port, credentials(pki.dir, pki.vehicle(1)), { clientId: pki.vins[1]! })
    open.push(other)
    const probe = new Promise<void>((resolve) => backend.on('message', (t) => { if (t.startsWith(`vehicles/${pki.vins[1]}/`)) resolve() }))
    await other.publishAsync(`vehicles/${pki.vins[1]}/telemetry/speed`, seq(0), { qos: 1 })
    await probe
    expect(received).to.be.greaterThan(0)
    expect(inOrder, 'QoS 0 messages of one publisher arrive in order').to.equal(true)
  })

  /** one raw MQTT connection per VIN (its own certificate, clientId = VIN), admitted, its replies read and ignored */
  async function rawCars (name: string, vins: readonly string[]): Promise<Array<{ socket: TLSSocket; topic: string }>> {
    const cars: Array<{ socket: TLSSocket; topic: string }> = []
    for (const vin of vins) {
      const dir = await pki.extra(`${name}-${vin}`, 'vehicle', vin)
      const tls = { ca: readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') }
      const r = await rawConnect({ host: '127.0.0.1', port: broker.port, servername: 'localhost' }, tls, connectPacket({ clientId: vin }))
      if (r.kind !== 'connack' || r.code !== 0) throw new Error(`car ${vin} refused`)
      r.socket.on('data', () => {})
      sockets.push(r.socket)
      cars.push({ socket: r.socket, topic: `vehicles/${vin}/telemetry/speed` })
    }
    return cars
  }

  it('keeps the broker up under 50 cars flooding at once while the backend restarts', async () => {
    let backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-flood-50' })
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 0 })
    let received = 0
    backend.on('message', () => { received++ })
    // 50 cars: 50 certificates (a car's clientId is its VIN)
    const vins = randomVins(50)
    const cars = await rawCars('flood-car', vins)
    const floods = Promise.all(cars.map((c) => flood(c.socket, (i) => publishPacket(c.topic, seq(i), 0), MAX_MESSAGES / 10, MAX_MS)))
    // Halfway the backend stalls (stops reading: its deliveries wait for 'drain' while
    // the cars go on), unsubscribes, then goes (a restart): what waited behind its
    // deliveries now matches no one and finishes at once, one message after the other.
    await sleep(MAX_MS / 2)
    const before = received
    ;(backend.stream as unknown as TLSSocket).pause()
    await sleep(1000)
    backend.unsubscribe('vehicles/+/telemetry/+')
    await sleep(300)
    await backend.endAsync(true)
    const results = await floods
    expect(before, 'the backend got messages during the flood').to.be.greaterThan(0)
    expect(results.every((r) => !r.closed), 'no car was closed').to.equal(true)
    for (const c of cars) c.socket.destroy()
    await sleep(500)
    // the broker still serves: a backend subscribes again and a car's message reaches it
    backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-flood-50' })
    open.push(backend)
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 0 })
    const probe = new Promise<void>((resolve) => backend.on('message', () => resolve()))
    const probeCar = await connect(broker.port, credentials(pki.dir, pki.vehicle(2)), { clientId: pki.vins[2]! })
    open.push(probeCar)
    await probeCar.publishAsync(`vehicles/${pki.vins[2]}/telemetry/speed`, seq(0), { qos: 1 })
    await probe
  })
  it('fair reads: while 16 cars flood at once, an event-loop turn hands Aedes a bounded share; a backend connecting meanwhile is served; every message is handled once, in order', async () => {
    const CARS = 16
    const PER_CAR = 10_000
    // Aedes' view: what each connection's read() hands it, counted in packets per event-loop turn (this
    // process runs the broker: a setImmediate chain marks the turns; one tick spans at most two of the guard's)
    const perTick: number[] = [0]
    let ticking = true
    const tick = () => { if (!ticking) return; perTick.push(0); setImmediate(tick) }
    let handed = 0
    const observe = (s: TLSSocket) => {
      const read = s.read
      const counter = new PacketScanner(Number.MAX_SAFE_INTEGER)
      s.read = function (this: TLSSocket, size?: number) {
        const chunk = read.call(this, size) as Buffer | null
        if (chunk !== null && ticking) { counter.scan(chunk); perTick[perTick.length - 1] += counter.counted; handed += counter.counted }
        return chunk
      }
    }
    // Aedes' 'publish' for every PUBLISH of these cars it handled (the broker may still be working through
    // what earlier tests' cars left): the payload is the car's sequence number
    const vins = randomVins(CARS)
    const seen = new Map(vins.map((vin) => [`vehicles/${vin}/telemetry/speed`, { n: 0, inOrder: true }]))
    const handledAll = () => [...seen.values()].every((s) => s.n >= PER_CAR)
    const onPublish = (packet: AedesPublishPacket, client: Client | null) => {
      const s = client ? seen.get(packet.topic) : undefined
      if (!s) return
      if (Buffer.from(packet.payload).readUInt32BE(0) !== s.n) s.inOrder = false
      s.n++
    }
    broker.server.on('secureConnection', observe)
    broker.broker.on('publish', onPublish)
    const cars = await rawCars('fair-car', vins)
    try {
      setImmediate(tick)
      // every car's whole flood written at once: a backlog on every connection
      for (const c of cars) c.socket.write(Buffer.concat(Array.from({ length: PER_CAR }, (_, i) => publishPacket(c.topic, seq(i), 0))))
      const backend = await Promise.race([
        connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-fair', connectTimeout: 30_000 }),
        sleep(30_000).then(() => null),
      ])
      const handedAtConnack = handed
      expect(backend, 'the backend connected during the flood').to.not.equal(null)
      open.push(backend!)
      for (let t = 0; t < 600 && !handledAll(); t++) await sleep(50)
      ticking = false
      expect(handedAtConnack, 'the backend was served while the flood was still being handed over').to.be.below(CARS * PER_CAR)
      expect([...seen.values()].map((s) => s.n), 'every PUBLISH handled once').to.deep.equal(cars.map(() => PER_CAR))
      expect([...seen.values()].every((s) => s.inOrder), 'each car\'s PUBLISHes in order').to.equal(true)
      // the bound: TURN_BUDGET a turn, or MIN_READ_BUDGET for each connection that reads (cars, the backend, slack of one)
      expect(Math.max(...perTick), 'packets handed to Aedes in one event-loop turn').to.be.at.most(2 * (TURN_BUDGET + MIN_READ_BUDGET * (CARS + 2)))
    } finally {
      ticking = false
      broker.server.off('secureConnection', observe)
      broker.broker.off('publish', onPublish)
    }
  })
})

describe('--max-publish-rate: one connection cannot take a node', function () {
  this.timeout(30_000)
  const RATE = 100
  let pki: TestPki
  let broker: TestBroker
  const open: MqttClient[] = []
  const sockets: TLSSocket[] = []
  before(async () => {
    pki = await testPki()
    broker = await startTestBroker(pki.dir, { maxPublishRate: RATE })
  })
  afterEach(async () => { await end(...open.splice(0)); for (const s of sockets.splice(0)) s.destroy() })
  after(async () => { await broker?.close() })

  async function dropped (): Promise<number> {
    const text = await broker.fleetgate.metrics.registry.metrics()
    const m = /fleetgate_decisions_total\{evt="publish\.drop",reason="rate_limited"\} (\d+)/.exec(text)
    return m ? Number(m[1]) : 0
  }

  it('QoS 0 over the rate is dropped before Aedes (counted, audited once), the car stays connected', async () => {
    const vin = pki.vins[0]!
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-rate' })
    open.push(backend)
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 0 })
    let received = 0
    backend.on('message', () => { received++ })
    broker.audit.clear()
    const car = await rawCar(broker, pki, 0, vin)
    sockets.push(car)
    const r = await flood(car, (i) => publishPacket(`vehicles/${vin}/telemetry/speed`, seq(i), 0), 20_000, 1500)
    await sleep(300)
    expect(r.closed, 'closed within the first seconds of excess').to.equal(false)
    expect(car.destroyed).to.equal(false)
    // the burst (2 s of the rate) and the refill over ~1.5 s, with slack for a slow machine
    expect(received).to.be.within(2 * RATE, 2 * RATE + 3 * RATE)
    expect(await dropped()).to.equal(r.sent - received)
    const lines = broker.audit.find('publish.drop', { reason: 'rate_limited' })
    expect(lines).to.have.length(1)
    expect(lines[0]!.client).to.deep.include({ id: vin })
  })

  it('QoS 1 over the rate is never dropped; a debt past the burst closes the connection (publish.deny rate_limited)', async () => {
    const vin = pki.vins[1]!
    broker.audit.clear()
    const car = await rawCar(broker, pki, 1, vin)
    sockets.push(car)
    const r = await flood(car, (i) => publishPacket(`vehicles/${vin}/telemetry/speed`, seq(i), 1, (i % 65535) + 1), 20_000, 5000)
    expect(r.closed).to.equal(true)
    expect(r.sent).to.be.at.least(4 * RATE)
    const line = await broker.audit.waitFor('publish.deny', { reason: 'rate_limited' })
    expect(line.rate).to.equal(RATE)
  })
})
