// Certificate expiry of live sessions (README "Certificate expiry"): a car whose
// certificate expires a few seconds after it connected is disconnected with
// cert_expired and its Will is not published, on the embedded store and on Redis
// with two nodes (the car on the other node: each node ends its own sessions);
// cert.expiring is audited once at connect. Real TLS, real MQTT clients.
import { expect } from 'chai'
import type { MqttClient } from 'mqtt'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomVin, loadCa, createIntermediateCa, issueLeaf } from '../../src/pki/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { connect, credentials, collect, closed, end } from '../harness/mqtt.js'

/** a car certificate whose notAfter is `seconds` from now (whole seconds, as X.509 keeps it) */
async function shortLivedCar (pki: TestPki, name: string, seconds: number): Promise<{ vin: string; dir: string; notAfter: number }> {
  const vin = randomVin()
  const notAfter = (Math.floor(Date.now() / 1000) + seconds) * 1000
  return { vin, dir: await pki.extra(name, 'vehicle', vin, { notAfter: new Date(notAfter) }), notAfter }
}

const will = (vin: string) => ({ topic: `vehicles/${vin}/status`, payload: Buffer.from('offline'), qos: 1 as const, retain: false })

describe('certificate expiry ends live sessions (embedded store)', function () {
  this.timeout(30_000)
  let pki: TestPki
  let broker: TestBroker
  const clients: MqttClient[] = []

  before(async () => {
    pki = await testPki()
    broker = await startTestBroker(pki.dir, { revocationRecheck: '1h' })
  })
  afterEach(async () => { await end(...clients.splice(0)) })
  after(async () => { await broker?.close() })

  it('closes the session when the leaf\'s notAfter passes: expiry.kick cert_expired, Will dropped, counted; cert.expiring at connect', async () => {
    const car = await shortLivedCar(pki, 'exp-embedded', 3)
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-exp' })
    clients.push(backend)
    await backend.subscribeAsync(`vehicles/${car.vin}/status`, { qos: 1 })
    const client = await connect(broker.port, credentials(pki.dir, car.dir), { clientId: car.vin, will: will(car.vin) })
    clients.push(client)
    // the warning line at connect: the leaf, with its notAfter and the days left
    const warning = await broker.audit.waitFor('cert.expiring', { which: 'leaf' })
    expect(warning.notAfter).to.equal(new Date(car.notAfter).toISOString())
    expect(warning.daysLeft).to.equal(0)
    expect((warning.cert as { cn: string }).cn).to.equal(car.vin)
    const gotWill = collect(backend, car.notAfter - Date.now() + 2500)
    await closed(client, car.notAfter - Date.now() + 2000)
    const closedAt = Date.now()
    expect(closedAt, 'not before notAfter').to.be.greaterThan(car.notAfter)
    expect(closedAt - car.notAfter, 'within a few seconds of notAfter').to.be.below(3000)
    const kick = await broker.audit.waitFor('expiry.kick', { reason: 'cert_expired' })
    expect(kick.which).to.equal('leaf')
    expect((kick.conn as { clientId: string }).clientId).to.equal(car.vin)
    await broker.audit.waitFor('will.drop', { reason: 'cert_expired' })
    expect((await gotWill).map((m) => m.payload.toString())).to.deep.equal([])
    expect(backend.connected).to.equal(true)
    // counted: the decision metric and the expiring counter
    const metrics = await broker.fleetgate.metrics.registry.metrics()
    expect(metrics).to.match(/fleetgate_decisions_total\{evt="expiry\.kick",reason="cert_expired"\} 1/)
    expect(metrics).to.match(/fleetgate_certificates_expiring_total\{which="leaf"\} [1-9]/)
    // nothing left tracked
    expect(broker.fleetgate.expiryGuard.buckets.size).to.equal(1) // the backend
  })

  it('control: the same car\'s Will IS delivered when it just drops before its notAfter', async () => {
    const car = await shortLivedCar(pki, 'exp-control', 30)
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-exp-ctl' })
    clients.push(backend)
    await backend.subscribeAsync(`vehicles/${car.vin}/status`, { qos: 1 })
    const client = await connect(broker.port, credentials(pki.dir, car.dir), { clientId: car.vin, will: will(car.vin) })
    const got = collect(backend, 3000, 1)
    ;(client as unknown as { stream: { destroy (): void } }).stream.destroy()
    expect((await got).map((m) => m.payload.toString())).to.deep.equal(['offline'])
  })

  it('an intermediate CA that expires before the leaf ends the session at the CA\'s notAfter (which: ca)', async () => {
    const [root, issuing] = await Promise.all([loadCa(pki.dir, 'root'), loadCa(pki.dir, 'issuing')])
    const caNotAfter = (Math.floor(Date.now() / 1000) + 3) * 1000
    // a second issuing CA under the root, with a short life and its own key (the shipped policy matches the issuer by name)
    const shortCa = await createIntermediateCa(root, 'issuing', { notAfter: new Date(caNotAfter), commonName: issuing.commonName })
    const vin = randomVin()
    const leaf = await issueLeaf(shortCa, 'vehicle', vin) // a year
    const dir = mkdtempSync(join(tmpdir(), 'fg-short-ca-'))
    writeFileSync(join(dir, 'cert.pem'), leaf.chainPem)
    writeFileSync(join(dir, 'key.pem'), leaf.keyPem!)
    const client = await connect(broker.port, credentials(pki.dir, dir), { clientId: vin })
    clients.push(client)
    const warning = await broker.audit.waitFor('cert.expiring', { which: 'ca', cert: { cn: vin } })
    expect(warning.name).to.equal(issuing.commonName)
    await closed(client, caNotAfter - Date.now() + 3000)
    expect(Date.now()).to.be.greaterThan(caNotAfter)
    const kick = await broker.audit.waitFor('expiry.kick', { which: 'ca', cert: { cn: vin } })
    expect(kick.notAfter).to.equal(new Date(caNotAfter).toISOString())
  })

  it('no cert.expiring for a certificate valid beyond --expiry-warning; a disconnected session leaves no bucket behind', async () => {
    broker.audit.clear()
    const before = broker.fleetgate.expiryGuard.buckets.size
    const client = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: pki.vins[0]! })
    await broker.audit.waitFor('connect.allow')
    expect(broker.audit.find('cert.expiring')).to.deep.equal([])
    expect(broker.fleetgate.expiryGuard.buckets.size).to.equal(before + 1)
    await client.endAsync()
    for (const deadline = Date.now() + 2000; broker.fleetgate.expiryGuard.buckets.size !== before && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(broker.fleetgate.expiryGuard.buckets.size).to.equal(before)
  })
})

describe('certificate expiry ends live sessions (Redis, two nodes)', function () {
  this.timeout(40_000)
  let pki: TestPki
  let redis: TestRedis
  let nodeA: TestBroker
  let nodeB: TestBroker
  const clients: MqttClient[] = []

  before(async () => {
    ;[pki, redis] = await Promise.all([testPki(), startRedis()])
    nodeA = await startTestBroker(pki.dir, { redis: redis.url, revocationRecheck: '1h' })
    nodeB = await startTestBroker(pki.dir, { redis: redis.url, revocationRecheck: '1h' })
  })
  afterEach(async () => { await end(...clients.splice(0)) })
  after(async () => { await nodeA?.close(); await nodeB?.close(); await redis?.stop() })

  async function watchers (vin: string): Promise<MqttClient[]> {
    const a = await connect(nodeA.port, credentials(pki.dir, pki.backend), { clientId: `fleet-backend-a-${vin}` })
    const b = await connect(nodeB.port, credentials(pki.dir, pki.monitor), { clientId: `fleet-monitor-b-${vin}` })
    clients.push(a, b)
    await Promise.all([a.subscribeAsync(`vehicles/${vin}/status`, { qos: 1 }), b.subscribeAsync(`vehicles/${vin}/status`, { qos: 1 })])
    return [a, b]
  }

  it('the node holding the session ends it at notAfter (cert_expired); its Will is published by neither node', async () => {
    const car = await shortLivedCar(pki, 'exp-redis', 3)
    const [onA, onB] = await watchers(car.vin)
    const client = await connect(nodeB.port, credentials(pki.dir, car.dir), { clientId: car.vin, clean: false, will: will(car.vin) })
    clients.push(client)
    await nodeB.audit.waitFor('cert.expiring', { which: 'leaf' })
    const wait = car.notAfter - Date.now() + 3000
    const gotA = collect(onA!, wait)
    const gotB = collect(onB!, wait)
    await closed(client, car.notAfter - Date.now() + 2000)
    expect(Date.now()).to.be.greaterThan(car.notAfter)
    const kick = await nodeB.audit.waitFor('expiry.kick', { reason: 'cert_expired' })
    expect((kick.conn as { clientId: string }).clientId).to.equal(car.vin)
    await nodeB.audit.waitFor('will.drop', { reason: 'cert_expired' })
    expect(nodeA.audit.find('expiry.kick'), 'node A holds no session of this car').to.deep.equal([])
    expect((await gotA).map((m) => m.payload.toString()), 'Will on node A').to.deep.equal([])
    expect((await gotB).map((m) => m.payload.toString()), 'Will on node B').to.deep.equal([])
  })

  it('control: the Will IS published on both nodes when the car on node B just drops', async () => {
    const car = await shortLivedCar(pki, 'exp-redis-control', 60)
    const [onA, onB] = await watchers(car.vin)
    const client = await connect(nodeB.port, credentials(pki.dir, car.dir), { clientId: car.vin, will: will(car.vin) })
    const gotA = collect(onA!, 3000, 1)
    const gotB = collect(onB!, 3000, 1)
    ;(client as unknown as { stream: { destroy (): void } }).stream.destroy()
    expect((await gotA).map((m) => m.payload.toString())).to.deep.equal(['offline'])
    expect((await gotB).map((m) => m.payload.toString())).to.deep.equal(['offline'])
  })
})
