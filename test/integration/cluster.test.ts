// Cluster mode: two broker nodes on one Redis (aedes-persistence-redis +
// mqemitter-redis) act as one broker, and a revocation reaches the node that
// holds the session.
import { expect } from 'chai'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, collect, closed, end } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'
import { Redis } from 'ioredis'
import { randomVin } from '../../src/pki/index.js'

describe('cluster: two nodes on one Redis', function () {
  this.timeout(40_000)
  let redis: TestRedis
  let pki: TestPki
  let a: TestBroker
  let b: TestBroker
  const clients: MqttClient[] = []

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    a = await startTestBroker(pki.dir, { redis: redis.url })
    b = await startTestBroker(pki.dir, { redis: redis.url })
  })
  after(async () => { await end(...clients); await a?.close(); await b?.close(); await redis?.stop() })

  it('delivers telemetry published by a car on node B to a backend on node A', async () => {
    const backend = await connect(a.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-cluster' })
    clients.push(backend)
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
    const vin = pki.vins[0]!
    const car = await connect(b.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
    clients.push(car)
    const got = collect(backend, 5000, 1)
    await car.publishAsync(`vehicles/${vin}/telemetry/speed`, '42', { qos: 1 })
    const msgs = await got
    expect(msgs.map((m) => [m.topic, m.payload.toString()])).to.deep.equal([[`vehicles/${vin}/telemetry/speed`, '42']])
  })

  it('a persistent session subscribing two filters in one packet gets its SUBACK and its messages', async () => {
    // Aedes stores such a SUBSCRIBE with two concurrent addSubscriptions calls; unfixed, the
    // persistence's broadcast lost one of them and the SUBACK never came (src/cluster/coalesce.ts).
    const backend = await connect(a.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-two', clean: false })
    clients.push(backend)
    const granted = await Promise.race([
      backend.subscribeAsync({ 'vehicles/+/telemetry/+': { qos: 1 }, 'vehicles/+/status': { qos: 1 } }),
      new Promise((_r, reject) => setTimeout(() => reject(new Error('no SUBACK within 3 s')), 3000)),
    ]) as Array<{ qos: number }>
    expect(granted.map((g) => g.qos)).to.deep.equal([1, 1])
    const vin = pki.vins[1]!
    const car = await connect(b.port, credentials(pki.dir, pki.vehicle(1)), { clientId: vin })
    clients.push(car)
    const got = collect(backend, 5000, 2)
    await car.publishAsync(`vehicles/${vin}/telemetry/speed`, '1', { qos: 1 })
    await car.publishAsync(`vehicles/${vin}/status`, 'online', { qos: 1 })
    expect((await got).map((m) => m.topic).sort()).to.deep.equal([`vehicles/${vin}/status`, `vehicles/${vin}/telemetry/speed`])
  })

  it('a revocation kicks the session on whichever node holds it', async () => {
    const vin = randomVin()
    const dir = await pki.extra('cluster-kick', 'vehicle', vin)
    const car = await connect(b.port, credentials(pki.dir, dir), { clientId: vin })
    clients.push(car)
    const r = await runCli(['revoke', '--cert', join(dir, 'cert.pem'), '--redis', redis.url, '--reason', 'keyCompromise'])
    expect(r.code, r.stderr).to.equal(0)
    await closed(car, 1000)
    await b.audit.waitFor('revocation.kick', { reason: 'revoked' })
    expect(a.audit.find('revocation.kick')).to.have.length(0)
  })

  it('a clientId taken over on the other node ends the first session; Aedes\' other $SYS notices stay off Redis', async () => {
    // new/clients must cross nodes (it ends the session taken over); disconnect/clients,
    // new/subscribes and new/unsubscribes have no reader and are kept node-local (src/cluster).
    const spy = new Redis(redis.url)
    const channels: string[] = []
    spy.on('pmessage', (_p: string, channel: string) => channels.push(channel))
    await spy.psubscribe('$SYS/*')
    try {
      const vin = pki.vins[2]!
      const first = await connect(b.port, credentials(pki.dir, pki.vehicle(2)), { clientId: vin })
      clients.push(first)
      await first.subscribeAsync(`vehicles/${vin}/commands`, { qos: 1 })
      await first.unsubscribeAsync(`vehicles/${vin}/commands`)
      const gone = closed(first, 5000)
      const second = await connect(a.port, credentials(pki.dir, pki.vehicle(2)), { clientId: vin })
      clients.push(second)
      await gone
      await end(second)
      await new Promise((resolve) => setTimeout(resolve, 300))
      const kinds = channels.map((c) => c.split('/').slice(2).join('/'))
      expect(kinds).to.include('new/clients')
      expect(kinds.filter((k) => /^(disconnect\/clients|new\/subscribes|new\/unsubscribes)$/.test(k))).to.deep.equal([])
    } finally {
      spy.disconnect()
    }
  })
})
