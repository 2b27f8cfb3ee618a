// Limits Aedes lacks (ARCHITECTURE.md "Known pitfalls of the libraries", serve flags): packet size
// guard, CONNECT deadline, connections per address, keepalive bound, topic depth.
import { expect } from 'chai'
import { connect as tlsConnect, type TLSSocket, type ConnectionOptions } from 'node:tls'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, tryConnect, connect, closed, collect, end, type Credentials } from '../harness/mqtt.js'

/** A TLS connection with a valid client certificate that speaks no MQTT unless told to. */
async function rawTls (port: number, creds: Credentials, localAddress = '127.0.0.1'): Promise<TLSSocket> {
  return await new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key, localAddress } as ConnectionOptions)
    s.once('secureConnect', () => resolve(s))
    s.once('error', reject)
  })
}

function whenClosed (s: TLSSocket, timeoutMs: number): Promise<number> {
  const t0 = Date.now()
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve(0)
    const t = setTimeout(() => reject(new Error('socket still open')), timeoutMs)
    s.once('close', () => { clearTimeout(t); resolve(Date.now() - t0) })
    s.on('error', () => {})
  })
}

describe('hardening: limits on hostile bytes and connections', function () {
  this.timeout(30_000)
  let pki: TestPki
  let vin: string
  const open: MqttClient[] = []
  const sockets: TLSSocket[] = []

  before(async () => { pki = await testPki(); vin = pki.vins[0]! })
  afterEach(async () => {
    await end(...open.splice(0))
    for (const s of sockets.splice(0)) s.destroy()
  })

  describe('with the defaults', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir, { connectTimeout: '1s' }) })
    after(async () => { await broker?.close() })
    beforeEach(() => broker.audit.clear())

    it('closes a connection whose 16 MB PUBLISH exceeds --max-packet-size (128 KiB) before Aedes buffers it; other clients carry on', async () => {
      const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-hardening' })
      open.push(backend)
      await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 0 })
      const car = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
      open.push(car)
      const rssBefore = process.memoryUsage().rss
      car.publish(`vehicles/${vin}/telemetry/blob`, Buffer.alloc(16 * 1024 * 1024, 0x41), { qos: 0 })
      await closed(car, 10_000)
      const line = await broker.audit.waitFor('stream.deny', { reason: 'packet_too_large' })
      expect(line.max).to.equal(128 * 1024)
      expect(line.announced).to.be.greaterThan(16 * 1024 * 1024)
      expect(line).to.not.have.property('payload')
      // Aedes never parsed it: no delivery, and the broker did not hold 16 MB for it.
      expect(broker.audit.find('publish.deny')).to.have.length(0)
      // The broker is still up and other clients are unaffected.
      const car2 = await connect(broker.port, credentials(pki.dir, pki.vehicle(1)), { clientId: pki.vins[1] })
      open.push(car2)
      const got = collect(backend, 3000, 1)
      await car2.publishAsync(`vehicles/${pki.vins[1]}/telemetry/speed`, '42', { qos: 1 })
      const msgs = await got
      expect(msgs.map((m) => m.payload.toString())).to.deep.equal(['42'])
      expect(backend.connected).to.equal(true)
      expect(process.memoryUsage().rss - rssBefore).to.be.lessThan(64 * 1024 * 1024)
    })

    it('admits a PUBLISH just under the limit', async () => {
      const car = await connect(broker.port, credentials(pki.dir, pki.vehicle(2)), { clientId: pki.vins[2] })
      open.push(car)
      await car.publishAsync(`vehicles/${pki.vins[2]}/telemetry/blob`, Buffer.alloc(120 * 1024), { qos: 1 })
      expect(car.connected).to.equal(true)
      expect(broker.audit.find('stream.deny')).to.have.length(0)
    })

    it('closes a connection that never sends CONNECT (connect_timeout) and keeps the others', async () => {
      const other = await connect(broker.port, credentials(pki.dir, pki.vehicle(3)), { clientId: pki.vins[3], keepalive: 30 })
      open.push(other)
      const s = await rawTls(broker.port, credentials(pki.dir, pki.vehicle(1)))
      sockets.push(s)
      const ms = await whenClosed(s, 5000)
      expect(ms).to.be.within(500, 3000)
      const line = await broker.audit.waitFor('stream.deny', { reason: 'connect_timeout' })
      expect(line.remote).to.match(/127\.0\.0\.1/)
      expect(other.connected).to.equal(true)
    })
  })

  describe('connections per client address', () => {
    let broker: TestBroker
    const cap = 4
    before(async () => { broker = await startTestBroker(pki.dir, { maxConnectionsPerIp: cap, connectTimeout: '2s' }) })
    after(async () => { await broker?.close() })
    beforeEach(() => broker.audit.clear())

    it('refuses the connection over --max-connections-per-ip with CONNACK 5 (too_many_connections); another address is unaffected', async () => {
      const backend = credentials(pki.dir, pki.backend)
      for (let i = 0; i < cap; i++) open.push(await connect(broker.port, backend, { clientId: `fleet-backend-${i}` }))
      const over = await tryConnect(broker.port, backend, { clientId: 'fleet-backend-over' })
      expect(over.ok).to.equal(false)
      if (!over.ok) expect(over.returnCode).to.equal(5)
      const line = await broker.audit.waitFor('connect.deny', { reason: 'too_many_connections' })
      expect(line.reason).to.equal('too_many_connections')
      // Another client address still gets in.
      const elsewhere = await tryConnect(broker.port, backend, { clientId: 'fleet-backend-elsewhere', localAddress: '127.0.0.2' } as object)
      expect(elsewhere.ok).to.equal(true)
      if (elsewhere.ok) open.push(elsewhere.client)
      // Closing one frees a place (the count goes down on close).
      await end(open.shift())
      await new Promise((r) => setTimeout(r, 200))
      const again = await tryConnect(broker.port, backend, { clientId: 'fleet-backend-again' })
      expect(again.ok).to.equal(true)
      if (again.ok) open.push(again.client)
    })

    it('survives a flood of TLS connections from one address: extras are shed, the count recovers, others unaffected', async () => {
      const other = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin, localAddress: '127.0.0.3' } as object)
      open.push(other)
      const creds = credentials(pki.dir, pki.vehicle(1))
      const flood = await Promise.all(Array.from({ length: 30 }, () => rawTls(broker.port, creds).catch(() => null)))
      for (const s of flood) if (s) sockets.push(s)
      // Everything past twice the limit is destroyed at once, without waiting for CONNECT.
      const shed = await Promise.all(flood.map((s) => s ? whenClosed(s, 1000).then(() => true, () => false) : true))
      expect(shed.filter(Boolean).length).to.be.at.least(30 - 2 * cap)
      expect(broker.audit.find('connect.deny', { reason: 'too_many_connections' }).length).to.be.at.least(30 - 2 * cap)
      expect(other.connected).to.equal(true)
      for (const s of sockets.splice(0)) s.destroy()
      await new Promise((r) => setTimeout(r, 300))
      const after = await tryConnect(broker.port, creds, { clientId: pki.vins[1] })
      expect(after.ok, 'count released on close').to.equal(true)
      if (after.ok) open.push(after.client)
    })
  })

  describe('keepalive bound and topic depth', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir, { keepaliveMax: '1s', maxTopicLevels: 3 }) })
    after(async () => { await broker?.close() })

    it('clamps keepalive 0 (none) to --keepalive-max: a silent client is dropped [MQTT-3.1.2-24]', async () => {
      const silent = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin, keepalive: 0 })
      open.push(silent)
      const t0 = Date.now()
      await closed(silent, 5000)
      expect(Date.now() - t0).to.be.lessThan(4000)
    })

    it('clamps a keepalive above --keepalive-max', async () => {
      const c = await connect(broker.port, credentials(pki.dir, pki.vehicle(1)), { clientId: pki.vins[1], keepalive: 3600 })
      open.push(c)
      // MQTT.js pings at its own 3600 s: the broker's 1 s bound drops it.
      await closed(c, 5000)
    })

    it('refuses a topic deeper than --max-topic-levels (3 here, under the default 16): the connection is closed, audited protocol_violation', async () => {
      const clientId = 'fleet-backend-depth'
      const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId, keepalive: 1 })
      open.push(backend)
      const subacks: unknown[] = []
      backend.on('packetreceive', (p) => { if (p.cmd === 'suback') subacks.push(p) })
      // vehicles/+/status has 3 levels, the bound: granted
      expect((await backend.subscribeAsync('vehicles/+/status', { qos: 0 }))[0]!.qos).to.equal(0)
      // vehicles/+/telemetry/+ has 4: the policy grants it to the backend, the depth bound refuses it;
      // Aedes answers no SUBACK and closes the connection
      backend.subscribe('vehicles/+/telemetry/+', { qos: 0 }, () => {})
      await closed(backend, 3000)
      expect(subacks, 'only the 3-level filter was answered').to.have.length(1)
      const line = await broker.audit.waitFor('stream.deny', { reason: 'protocol_violation' })
      expect(line.detail).to.equal('topic has too many levels')
      expect(line.client).to.deep.equal({ id: clientId })
      expect(broker.audit.find('subscribe.deny'), 'not a policy refusal').to.have.length(0)
    })
  })
})
