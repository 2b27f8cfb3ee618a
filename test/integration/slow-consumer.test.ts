// Issue 15 item 5: a subscriber that stops reading costs only itself. Real TLS,
// real MQTT.js clients; the stuck subscriber is a raw TLS socket that completed
// CONNECT + SUBSCRIBE and then stopped reading (socket.pause()).
import { expect } from 'chai'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { credentials, connect, end, type Credentials } from '../harness/mqtt.js'
import { clientsOf } from '../../src/broker/index.js'
import { AEDES_CHECKED_VERSION, aedesVersion, clientInternals } from '../../src/aedes/adapter.js'

/** A raw MQTT 3.1.1 session over TLS: CONNECT, then SUBSCRIBE; resolves once SUBACKed. */
async function rawSubscriber (port: number, creds: Credentials, clientId: string, filter: string, qos: 0 | 1, clean = true): Promise<TLSSocket> {
  const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key })
  s.on('error', () => {})
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no SUBACK')), 10_000)
    parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'connack') {
        if ((p as mqttPacket.IConnackPacket).returnCode !== 0) return reject(new Error('CONNACK refused'))
        s.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] } as mqttPacket.ISubscribePacket))
      }
      if (p.cmd === 'suback') { clearTimeout(t); resolve() }
    })
    s.on('data', (d: Buffer) => parser.parse(d))
    s.once('secureConnect', () => s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, clientId, keepalive: 600 } as mqttPacket.IConnectPacket)))
  })
  // From here on it reads nothing: TLS stops taking bytes off the kernel once its
  // readable buffer is full (its high-water mark: 64 KiB on Node 24), so the broker's writes to it back up.
  s.removeAllListeners('data')
  s.pause()
  return s
}

/** A car publishing QoS 0 to its own topic as fast as its socket drains, until stopped or `maxBytes` sent. */
function flood (port: number, creds: Credentials, vin: string, maxBytes: number): { stop (): void; sent (): number; socket: TLSSocket } {
  const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key })
  s.on('error', () => {})
  const packet = mqttPacket.generate({ cmd: 'publish', topic: `vehicles/${vin}/telemetry/speed`, payload: Buffer.alloc(4096, 0x41), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket)
  let sent = 0
  let stopped = false
  const pump = () => {
    while (!stopped && sent < maxBytes) {
      sent += packet.length
      if (!s.write(packet)) return
    }
  }
  s.on('drain', pump)
  // Aedes holds at most 42 packets that come before the CONNACK: start at the CONNACK.
  s.once('data', () => { s.on('data', () => {}); pump() })
  s.once('secureConnect', () => {
    s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: vin, keepalive: 600 } as mqttPacket.IConnectPacket))
  })
  return { stop () { stopped = true }, sent: () => sent, socket: s }
}

function whenClosed (s: TLSSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve()
    const t = setTimeout(() => reject(new Error('socket still open')), timeoutMs)
    s.once('close', () => { clearTimeout(t); resolve() })
  })
}

/** A stuck socket sees the broker's close only once it reads what was sent before it. */
async function whenGone (s: TLSSocket): Promise<void> {
  s.on('data', () => {})
  s.resume()
  await whenClosed(s, DEADLINE)
}

/** The messages a client receives, by topic, as they come. */
function received (client: MqttClient): string[] {
  const got: string[] = []
  client.on('message', (_topic, payload) => got.push(payload.toString()))
  return got
}

async function until (cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function decisions (broker: TestBroker, evt: string): Promise<number> {
  const m = await broker.fleetgate.metrics.registry.getSingleMetric('fleetgate_decisions_total')!.get()
  return m.values.filter((v) => v.labels.evt === evt && v.labels.reason === 'slow_consumer').reduce((a, v) => a + v.value, 0)
}

// What the others get while one is stuck must arrive within FAST: far below the
// slow-consumer timeout here (8 s) and Aedes' drainTimeout (60 s by default), so a
// broker whose delivery waits for the stuck socket (or only ends it) misses it.
const FAST = 4_000
const DEADLINE = 20_000
const LIMITS = { maxOutboundBuffer: '256KiB', slowConsumerTimeout: '8s' }
/** what one turn of the event loop may deliver past the bound (see stuckBackendScenario) */
const ONE_TURN = 1024 * 1024

async function within<T> (ms: number, what: string, p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms) })
  try { return await Promise.race([p, late]) } finally { clearTimeout(t) }
}

describe('slow consumer: a subscriber that stops reading stalls nobody else', function () {
  this.timeout(60_000)
  let pki: TestPki
  const open: MqttClient[] = []
  const sockets: TLSSocket[] = []
  const floods: Array<{ stop (): void }> = []

  before(async () => { pki = await testPki() })
  afterEach(async () => {
    for (const f of floods.splice(0)) f.stop()
    await end(...open.splice(0))
    for (const s of sockets.splice(0)) s.destroy()
  })

  /** The scenario, on a broker started with `input`. */
  async function stuckBackendScenario (broker: TestBroker, tag: string): Promise<void> {
    const [vinA, vinB] = [pki.vins[0]!, pki.vins[1]!]
    const slow = await rawSubscriber(broker.port, credentials(pki.dir, pki.backend), `fleet-backend-slow-${tag}`, 'vehicles/+/telemetry/+', 0)
    sockets.push(slow)
    const monitor = await connect(broker.port, credentials(pki.dir, pki.monitor), { clientId: `fleet-monitor-fast-${tag}` })
    open.push(monitor)
    await monitor.subscribeAsync(`vehicles/${vinB}/telemetry/+`, { qos: 0 })
    const got = received(monitor)

    // Car A floods (bounded: 64 MB); the stuck backend's socket fills.
    const a = flood(broker.port, credentials(pki.dir, pki.vehicle(0)), vinA, 64 * 1024 * 1024)
    floods.push(a)
    sockets.push(a.socket)
    // Past the kernel's buffers for the stuck socket (or, with a broker that
    // waits for it, past the point where delivery stalls).
    await until(() => a.sent() >= 24 * 1024 * 1024 || broker.audit.find('deliver.slow').length > 0, FAST, 'flood under way').catch(() => {})

    // Car B: 100 messages to the fast monitor on its own topic, while the backend is stuck.
    const b = await connect(broker.port, credentials(pki.dir, pki.vehicle(1)), { clientId: vinB })
    open.push(b)
    for (let i = 0; i < 100; i++) b.publish(`vehicles/${vinB}/telemetry/speed`, String(i), { qos: 0 })
    await until(() => got.length >= 100, FAST, `car B's messages at the fast subscriber (${got.length}/100)`)
    expect(got).to.deep.equal(Array.from({ length: 100 }, (_, i) => String(i)))
    expect(clientsOf(broker.broker)[`fleet-backend-slow-${tag}`], 'the stuck backend is still connected while B was delivered').to.not.equal(undefined)
    expect(broker.audit.find('deliver.kick')).to.have.length(0)
    // What the broker holds for it stays near the bound, not at what the flood sent (the unbounded broker held 16 MB
    // here): the bound (256 KiB) plus one turn's deliveries. Aedes writes each delivery in a setImmediate, so every
    // delivery of one turn passes the bound's check before any of them is written (a burst is let through on purpose:
    // outbound.ts, settle), and a turn is whatever one poll phase read: in cluster mode a batch from Redis, seen at
    // 290-310 KiB past the bound.
    expect(clientsOf(broker.broker)[`fleet-backend-slow-${tag}`]!.conn.writableLength).to.be.below(256 * 1024 + ONE_TURN)

    // The stuck one is closed after --slow-consumer-timeout, audited once per episode.
    const kick = await broker.audit.waitFor('deliver.kick', { reason: 'slow_consumer' }, DEADLINE)
    await whenGone(slow)
    expect(kick.detail).to.match(/not drained within 8000 ms/)
    expect(kick.dropped as number).to.be.greaterThan(0)
    // one line per episode, never one per message: the kernel may take a last window from the paused socket,
    // draining the buffer once (deliver.slow_end) before the next episode, so more than one episode can happen
    const episodes = broker.audit.find('deliver.slow', { reason: 'slow_consumer' })
    const ended = broker.audit.find('deliver.slow_end')
    expect(episodes.length).to.be.within(1, 3)
    expect(ended).to.have.length(episodes.length - 1)
    expect(await decisions(broker, 'deliver.drop')).to.equal((kick.dropped as number) + ended.reduce((n, l) => n + (l.dropped as number), 0))
    expect(await decisions(broker, 'deliver.kick')).to.equal(1)
    // The flooding car was never held up by it, and is still connected.
    expect(a.socket.destroyed).to.equal(false)
    expect(monitor.connected).to.equal(true)
  }

  describe('embedded store', () => {
    let broker: TestBroker
    beforeEach(async () => { broker = await startTestBroker(pki.dir, LIMITS) })
    afterEach(async () => { await broker?.close() })

    it('replaces the delivery of each client of the Aedes version it was checked against (adapter shape)', async () => {
      expect(aedesVersion(broker.broker)).to.equal(AEDES_CHECKED_VERSION)
      const c = await connect(broker.port, credentials(pki.dir, pki.monitor), { clientId: 'fleet-monitor-shape' })
      open.push(c)
      const client = clientsOf(broker.broker)['fleet-monitor-shape']!
      const internals = clientInternals(client)
      expect(internals, 'Aedes Client shape').to.not.equal(null)
      expect(internals!.deliver0.name).to.equal('boundedDeliver0')
      expect(internals!.deliverQoS.name).to.equal('boundedDeliverQoS')
      expect(internals!.waitForDrain.name).to.equal('boundedWaitForDrain')
      expect((broker.broker as unknown as { opts: { drainTimeout: number } }).opts.drainTimeout).to.equal(16_000)
    })

    it('a backend that stops reading: car B\'s 100 messages reach a fast subscriber while it is stuck; it is closed after --slow-consumer-timeout (slow_consumer)', async () => {
      await stuckBackendScenario(broker, 'e')
    })

    for (const how of ['stays stuck', 'reads again'] as const) {
      it(`a persistent session's QoS 1 messages past the bound wait in its queue and come, in order, when it reconnects (${how})`, async () => {
        const vin = pki.vins[2]!
        const creds = credentials(pki.dir, pki.backend)
        const id = `fleet-backend-durable-${how === 'stays stuck' ? 's' : 'r'}`
        const slow = await rawSubscriber(broker.port, creds, id, `vehicles/${vin}/telemetry/+`, 1, false)
        sockets.push(slow)
        const car = await connect(broker.port, credentials(pki.dir, pki.vehicle(2)), { clientId: vin })
        open.push(car)
        // Every one is PUBACKed to the car while the backend is stuck (none waits for it).
        const N = 3000
        const payload = (i: number) => String(i).padStart(6, '0') + 'x'.repeat(4 * 1024)
        await within(FAST, 'PUBACKs to the car', Promise.all(Array.from({ length: N }, (_, i) => car.publishAsync(`vehicles/${vin}/telemetry/speed`, payload(i), { qos: 1 }))))
        expect(clientsOf(broker.broker)[id], 'the stuck backend is still connected').to.not.equal(undefined)
        // Reading again (it never PUBACKs), it drains what was written: closed at once, not at the timeout.
        if (how === 'reads again') { slow.on('data', () => {}); slow.resume() }
        const kick = await broker.audit.waitFor('deliver.kick', { reason: 'slow_consumer' }, DEADLINE)
        expect(kick.detail).to.match(how === 'stays stuck' ? /not drained within/ : /^drained; held-back messages wait in the session queue/)
        await whenGone(slow)
        expect(kick.deferred as number).to.be.greaterThan(0)
        expect(await decisions(broker, 'deliver.drop')).to.equal(0)
        expect(await decisions(broker, 'deliver.defer')).to.equal(kick.deferred)
        // Back, reading: every message, in publish order (what the stuck socket got was never PUBACKed: sent again).
        const back = await connect(broker.port, creds, { clientId: id, clean: false })
        open.push(back)
        const got = received(back)
        await until(() => new Set(got.map((p) => p.slice(0, 6))).size >= N, 30_000, 'queued messages after reconnect')
        const firsts = [...new Set(got.map((p) => Number(p.slice(0, 6))))]
        expect(firsts).to.deep.equal(Array.from({ length: N }, (_, i) => i))
      })
    }
  })

  describe('a burst, not a slow consumer', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir, { maxOutboundBuffer: '64KiB', slowConsumerTimeout: '8s' }) })
    after(async () => { await broker?.close() })

    it('160 KiB written at once to a subscriber that reads (past the 64 KiB bound until its kernel takes it at the next turn): all delivered, no episode', async () => {
      const vin = pki.vins[3]!
      const monitor = await connect(broker.port, credentials(pki.dir, pki.monitor), { clientId: 'fleet-monitor-burst' })
      open.push(monitor)
      await monitor.subscribeAsync(`vehicles/${vin}/telemetry/+`, { qos: 0 })
      const got = received(monitor)
      // the car sends 40 PUBLISHes of 4 KiB in one write: the broker reads them in one go (Node 24 reads 64 KiB at a
      // time) and writes their deliveries to the monitor in one turn, past the bound until the next turn
      const creds = credentials(pki.dir, pki.vehicle(3))
      const car = tlsConnect({ host: '127.0.0.1', port: broker.port, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key })
      car.on('error', () => {})
      sockets.push(car)
      await new Promise<void>((resolve) => {
        car.once('secureConnect', () => car.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: vin, keepalive: 600 } as mqttPacket.IConnectPacket)))
        car.once('data', () => { car.on('data', () => {}); resolve() })
      })
      const N = 40
      for (let round = 0; round < 3; round++) {
        const burst = Array.from({ length: N }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic: `vehicles/${vin}/telemetry/speed`, payload: Buffer.from(`${round}:${i}:`.padEnd(4096, 'x')), qos: 0, retain: false, dup: false } as mqttPacket.IPublishPacket))
        car.write(Buffer.concat(burst))
        await until(() => got.length >= (round + 1) * N, FAST, `burst ${round} at the monitor (${got.length}/${(round + 1) * N})`)
      }
      expect(got.map((p) => p.slice(0, p.indexOf(':', p.indexOf(':') + 1)))).to.deep.equal(Array.from({ length: 3 * N }, (_, k) => `${Math.floor(k / N)}:${k % N}`))
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(broker.audit.find('deliver.slow'), 'a slow-consumer episode for a burst its kernel took at once').to.have.length(0)
      expect(await decisions(broker, 'deliver.drop')).to.equal(0)
    })
  })

  describe('cluster mode (Redis)', () => {
    let redis: TestRedis
    let broker: TestBroker
    before(async () => { redis = await startRedis() })
    after(async () => { await redis?.stop() })
    beforeEach(async () => { broker = await startTestBroker(pki.dir, { ...LIMITS, redis: redis.url }) })
    afterEach(async () => { await broker?.close() })

    it('the same scenario: B delivered while the backend is stuck; the backend closed (slow_consumer)', async () => {
      await stuckBackendScenario(broker, 'r')
    })
  })
})
