// Health (/healthz, /readyz) and drain on the metrics/admin port, with a real
// redis-server, real TLS brokers and real MQTT clients.
//
// Drain: two nodes on one redis-server. Node A holds a persistent QoS 1
// subscriber (a fleet backend) and three cars with Wills; a car on node B
// publishes numbered QoS 1 telemetry throughout. A drains at 2 sessions/s: its
// listener closes at once (readiness 503 from the first moment), each session is
// closed for `draining`; the backend and the cars reconnect to B. Counted: every
// message the publisher had PUBACKed reaches the backend (those in flight when A
// closed its session, those queued while it moved, those after), no Will is
// published (nor left behind in Redis for a dead-node sweep to publish later).
import { expect } from 'chai'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, end, outcomeOf, tryConnect } from '../harness/mqtt.js'
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { once } from 'node:events'
import { MqttClient } from 'mqtt'
import { receiveSeq, until } from './session-support.js'
import { freePort } from '../harness/ports.js'
import { runCli } from '../harness/cli.js'

async function get (port: number, path: string): Promise<{ status: number; body: { ready?: boolean; checks?: Record<string, unknown> } | string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  const text = await res.text()
  try { return { status: res.status, body: JSON.parse(text) as { ready?: boolean } } } catch { return { status: res.status, body: text } }
}

function checksOf (r: Awaited<ReturnType<typeof get>>): Record<string, unknown> {
  return (r.body as { checks: Record<string, unknown> }).checks
}

describe('health: /healthz and /readyz on the metrics/admin port', function () {
  this.timeout(60_000)
  let redis: TestRedis
  let pki: TestPki
  let closed: TestBroker | undefined
  let open: TestBroker | undefined

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    closed = await startTestBroker(pki.dir, { redis: redis.url, metricsPort: 0, revocationTimeout: 300 })
    open = await startTestBroker(pki.dir, { redis: redis.url, metricsPort: 0, revocationTimeout: 300, revocationFailOpen: true })
  })
  after(async () => { await closed?.close(); await open?.close(); await redis?.stop() })

  it('ready with the listener up, the PKI loaded and the store reachable; 503 while Redis is down and the node fails closed; ready again after', async () => {
    const port = closed!.metrics!.port
    expect((await get(port, '/healthz')).status).to.equal(200)
    const up = await get(port, '/readyz')
    expect(up.status).to.equal(200)
    expect(checksOf(up)).to.include({ listener: 'up', pki: 'loaded', store: 'reachable', draining: false })
    // the metrics are still there, and anything else is 404
    expect((await get(port, '/metrics')).status).to.equal(200)
    expect((await get(port, '/nope')).status).to.equal(404)

    await redis.stop()
    await until(async () => (await get(port, '/readyz')).status === 503, 10_000, 'readyz 503 with Redis down')
    const down = await get(port, '/readyz')
    expect(checksOf(down).store).to.equal('unreachable (failing closed)')
    expect((down.body as { ready: boolean }).ready).to.equal(false)
    // alive all the same: a liveness probe must not restart a node for its store's outage
    expect((await get(port, '/healthz')).status).to.equal(200)
    // the node failing open on revocations says so, but it is not ready either: its sessions' Redis links
    // (clientId owners, the emitter) are down too, and a connect that cannot claim its clientId is refused
    const failOpen = await get(open!.metrics!.port, '/readyz')
    expect(checksOf(failOpen)).to.include({ store: 'unreachable (failing open)', cluster: 'unreachable (failing closed)' })
    expect(failOpen.status).to.equal(503)

    await redis.start()
    await until(async () => (await get(port, '/readyz')).status === 200, 15_000, 'readyz 200 once Redis is back')
  })
})

describe('fleetgate drain: operator mistakes', function () {
  it('nothing on the port, or no --metrics-port: one line, exit 2', async () => {
    const port = await freePort()
    const r = await runCli(['drain', '--metrics-port', String(port)])
    expect(r.code).to.equal(2)
    expect(r.stderr).to.equal(`FG_ERR_ADMIN_UNREACHABLE: --metrics-port ${port}: nothing answers on 127.0.0.1:${port} (ECONNREFUSED)\n`)
    const missing = await runCli(['drain'], { env: { FLEETGATE_METRICS_PORT: '' } })
    expect(missing.code).to.equal(2)
    expect(missing.stderr).to.match(/^FG_ERR_CONFIG_MISSING: --metrics-port is required/)
  })
})

describe('drain: sessions move to another node, QoS 1 messages and persistent sessions survive, no Will', function () {
  this.timeout(120_000)
  let redis: TestRedis
  let pki: TestPki
  let a: TestBroker
  let b: TestBroker
  const clients: MqttClient[] = []

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    a = await startTestBroker(pki.dir, { redis: redis.url, metricsPort: 0, maxPublishRate: 0, drainRate: 2 })
    b = await startTestBroker(pki.dir, { redis: redis.url, metricsPort: 0, maxPublishRate: 0 })
  })
  after(async () => { await end(...clients); await a?.close(); await b?.close(); await redis?.stop() })

  it('drains A at --drain-rate: readiness 503 at once, every session closed for draining, every PUBACKed message delivered on B, no Will published', async () => {
    const backendCreds = credentials(pki.dir, pki.backend)
    const backendId = 'fleet-backend-drain'
    // a monitor on B watches the cars' status topic: a Will would land there
    const monitor = await connect(b.port, credentials(pki.dir, pki.monitor), { clientId: 'fleet-monitor-drain' })
    clients.push(monitor)
    const wills: string[] = []
    monitor.on('message', (topic) => wills.push(topic))
    await monitor.subscribeAsync('vehicles/+/status', { qos: 1 })
    // the backend's persistent session: its QoS 1 subscription is stored in Redis
    const setup = await connect(a.port, backendCreds, { clientId: backendId, clean: false })
    await setup.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
    await end(setup)

    // on A: the persistent subscriber first (the drain closes the oldest first), then three cars with Wills
    let drainStarted = false
    const first = receiveSeq(a.port, backendCreds, { clientId: backendId, clean: false }, Infinity, 60_000)
    await until(() => a.fleetgate.sessions.size === 1, 5000, 'backend on A')
    const cars: MqttClient[] = []
    const carsBack: Array<Promise<void>> = []
    for (let i = 0; i < 3; i++) {
      const vin = pki.vins[i]!
      const opts = { clientId: vin, clean: false, will: { topic: `vehicles/${vin}/status`, payload: Buffer.from('offline'), qos: 1 as const, retain: false } }
      const car = await connect(a.port, credentials(pki.dir, pki.vehicle(i)), opts)
      clients.push(car)
      cars.push(car)
      // a drained car comes back on the other node (what HAProxy would do: A no longer listens)
      carsBack.push(new Promise<void>((resolve, reject) => car.once('close', () => {
        if (!drainStarted) return reject(new Error('car closed before the drain'))
        connect(b.port, credentials(pki.dir, pki.vehicle(i)), opts).then((again) => { clients.push(again); resolve() }, reject)
      })))
    }
    expect(a.fleetgate.sessions.size).to.equal(4)
    expect((await get(a.metrics!.port, '/readyz')).status).to.equal(200)

    // the publisher: a car on B, numbered QoS 1 telemetry, paced over ~4 s
    const publisher = await connect(b.port, credentials(pki.dir, pki.vehicle(3)), { clientId: pki.vins[3]! })
    clients.push(publisher)
    const topic = `vehicles/${pki.vins[3]!}/telemetry/speed`
    const TOTAL = 2000
    let acked = 0
    const publishing = (async () => {
      for (let n = 0; n < TOTAL; n += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, k) => publisher.publishAsync(topic, String(n + k), { qos: 1 }).then(() => { acked++ })))
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    await until(() => acked >= 200, 10_000, '200 messages PUBACKed')

    // drain A through its admin port, as `fleetgate drain` does
    drainStarted = true
    // without the header (what a cross-origin form could send): refused, and nothing drains
    const formPost = await fetch(`http://127.0.0.1:${a.metrics!.port}/drain`, { method: 'POST' })
    expect(formPost.status).to.equal(403)
    expect((await get(a.metrics!.port, '/readyz')).status).to.equal(200)
    const answer = await fetch(`http://127.0.0.1:${a.metrics!.port}/drain`, { method: 'POST', headers: { 'x-fleetgate-drain': '1' } })
    expect(answer.status).to.equal(202)
    // not ready from the first moment, and no longer accepting
    const r = await get(a.metrics!.port, '/readyz')
    expect(r.status).to.equal(503)
    expect(checksOf(r)).to.include({ draining: true, listener: 'closed' })
    const refused = await tryConnect(a.port, credentials(pki.dir, pki.vehicle(3)), { clientId: pki.vins[3]! })
    expect(refused.ok, 'a new connection to a draining node').to.equal(false)

    const onA = await first
    const result = await a.drained
    expect(result).to.include({ drained: 4, timedOut: false })
    // 4 sessions at 2/s: the last one closed no sooner than ~1.5 s after the first
    expect(result.ms).to.be.at.least(1400)
    expect(a.audit.find('drain.kick', { reason: 'draining' })).to.have.length(4)
    expect(a.audit.find('will.drop', { reason: 'draining' })).to.have.length(3)

    // the backend resumes its session on B and gets everything the publisher had PUBACKed
    const seen = new Set(onA.seqs)
    const onB = await receiveSeq(b.port, backendCreds, { clientId: backendId, clean: false }, Infinity, 60_000, (n) => { seen.add(n); return seen.size === TOTAL })
    clients.push(onB.client)
    await publishing
    await Promise.all(carsBack)
    expect(acked).to.equal(TOTAL)
    expect(onB.sessionPresent, 'persistent session found on B').to.equal(true)
    const all = new Set([...onA.seqs, ...onB.seqs])
    expect(all.size, 'distinct messages delivered').to.equal(TOTAL)
    const again = onB.seqs.filter((n) => onA.seqs.includes(n)).length
    const afterMove = onB.seqs.length - again
    // the figures of the move, for the report
    console.log(`      drain: ${onA.seqs.length} delivered on A, ${afterMove} on B after the move (queued in Redis or published after), ${again} in flight at the move and delivered again (QoS 1), ${result.ms} ms`)
    expect(onA.seqs.length).to.be.greaterThan(0)
    expect(afterMove).to.be.greaterThan(0)

    // no Will: none published, none left in Redis for a dead-node sweep to publish later
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(wills, 'Wills published').to.deep.equal([])
    const r2 = new Redis(redis.url)
    try {
      // (the cars back on B have their Wills stored under B's id, as they should)
      expect(await r2.keys(`will:${a.broker.id}:*`), 'Wills of node A left in Redis').to.deep.equal([])
      expect(await r2.keys(`will:${b.broker.id}:*`), 'Wills of the cars now on B').to.have.length(3)
    } finally { r2.disconnect() }
  })
})

describe('drain: a TLS handshake under way when the drain begins never becomes a session', function () {
  this.timeout(30_000)
  it('the TCP connection accepted before the drain finishes its handshake after "drained": closed before CONNECT (accept.deny draining), no session', async () => {
    const pki = await testPki()
    const broker = await startTestBroker(pki.dir, {})
    try {
      // accepted by the listener, no TLS byte sent yet
      const tcp = netConnect(broker.port, '127.0.0.1')
      await once(tcp, 'connect')
      const result = await broker.drain({ rate: 100, timeout: 5000 })
      expect(result.drained + result.cut).to.equal(0)
      // now the handshake and the CONNECT
      const creds = credentials(pki.dir, pki.vehicle(0))
      const client = new MqttClient(() => tlsConnect({ socket: tcp, ca: creds.ca, cert: creds.cert, key: creds.key, servername: 'localhost' }), {
        protocol: 'mqtts', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: pki.vins[0], reconnectPeriod: 0, connectTimeout: 5000,
      })
      const outcome = await outcomeOf(client)
      client.end(true)
      expect(outcome.ok, 'no CONNACK from a drained node').to.equal(false)
      await broker.audit.waitFor('accept.deny', { reason: 'draining' })
      expect(broker.fleetgate.sessions.size).to.equal(0)
      expect(broker.audit.find('connect.allow')).to.deep.equal([])
    } finally { await broker.close() }
  })
})
