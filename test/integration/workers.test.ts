// `fleetgate serve --workers 2 --redis`: the real command line, two worker
// processes sharing one port, real redis-server, real TLS and MQTT clients.
// Each test finds which worker holds a connection from the audit lines (they
// carry the worker id) and checks that what crosses cluster nodes also crosses
// workers: pub/sub, retained messages, persistent sessions, TLS tickets, clientId
// takeover, live revocation; and the primary's part: one metrics view, /readyz,
// a dead worker restarted, SIGHUP to every worker, SIGTERM draining every worker.
import { expect } from 'chai'
import { execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, connectSession, credentials, end, type Credentials } from '../harness/mqtt.js'
import { runCli, startCli, stopChild } from '../harness/cli.js'
import { connectWithTicket } from '../harness/tls-session.js'
import { until } from './session-support.js'

interface AuditLine { evt?: string; worker?: number | string; conn?: { clientId?: string }; reason?: string; tls?: { resumed?: boolean } }

describe('serve --workers 2: workers share one port and behave as cluster nodes', function () {
  this.timeout(120_000)
  let redis: TestRedis
  let pki: TestPki
  let node: { child: ChildProcess; stderr: () => string; stdout: () => string }
  let port: number
  let admin: number
  let other: TestBroker
  const clients: MqttClient[] = []

  const lines = (): AuditLine[] => node.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as AuditLine)
  const allowed = (clientId: string) => lines().filter((l) => l.evt === 'connect.allow' && l.conn?.clientId === clientId)
  /** the worker of the newest connection of clientId */
  const workerOf = async (clientId: string, n: number): Promise<number> => {
    await until(() => allowed(clientId).length >= n, 5000, `connect.allow #${n} of ${clientId}`)
    return allowed(clientId)[n - 1]!.worker as number
  }
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text()
    const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text)
    return m ? Number(m[1]) : NaN
  }
  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${admin}/readyz`)
    return { status: res.status, body: await res.json() as { ready: boolean; checks: Record<string, unknown> } }
  }

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    node = await startCli(['serve', '--ca', join(pki.dir, 'root-ca.pem'), '--cert', join(pki.dir, 'broker', 'cert.pem'), '--key', join(pki.dir, 'broker', 'key.pem'),
      '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0', '--workers', '2', '--redis', redis.url, '--data-dir', mkdtempSync(join(tmpdir(), 'fg-data-')),
      '--max-publish-rate', '0', '--drain-rate', '4'], /admin on 127\.0\.0\.1:\d+/, { timeoutMs: 30_000 })
    port = Number(/mTLS MQTT on 127\.0\.0\.1:(\d+), 2 workers/.exec(node.stderr())![1])
    admin = Number(/admin on 127\.0\.0\.1:(\d+)/.exec(node.stderr())![1])
    // a second node, outside the workers: it watches for Wills
    other = await startTestBroker(pki.dir, { redis: redis.url })
  })
  after(async () => { await end(...clients); await stopChild(node?.child, 'SIGKILL'); await other?.close(); await redis?.stop() })

  it('--workers without --redis exits 2 with one line', async () => {
    const r = await runCli(['serve', '--dev', '--dev-pki', pki.dir, '--workers', '2'])
    expect(r.code).to.equal(2)
    expect(r.stderr.trim().split('\n')).to.have.length(1)
    expect(r.stderr).to.match(/^FG_ERR_CONFIG_INVALID: --workers needs --redis/)
    const bad = await runCli(['serve', '--dev', '--dev-pki', pki.dir, '--workers', 'lots', '--redis', redis.url])
    expect(bad.code).to.equal(2)
    expect(bad.stderr).to.match(/^FG_ERR_CONFIG_INVALID: --workers lots: expected a number from 1 to 256, or auto\n$/)
  })

  it('pub/sub, retained messages and a persistent session across the two workers', async () => {
    const backend = credentials(pki.dir, pki.backend)
    // the backend's persistent session, made on one worker
    const setup = await connect(port, backend, { clientId: 'fleet-backend-w', clean: false })
    await setup.subscribeAsync(['vehicles/+/telemetry/+', 'vehicles/+/status'], { qos: 1 })
    const setupWorker = await workerOf('fleet-backend-w', 1)
    await end(setup)
    // a car on some worker: a retained status, and telemetry while the backend is away
    const vin = pki.vins[0]!
    const car = await connect(port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
    clients.push(car)
    const carWorker = await workerOf(vin, 1)
    await car.publishAsync(`vehicles/${vin}/status`, 'online', { qos: 1, retain: true })
    for (let i = 0; i < 5; i++) await car.publishAsync(`vehicles/${vin}/telemetry/speed`, String(i), { qos: 1 })
    // the backend comes back until it lands on the other worker than the one it subscribed on
    let back: { client: MqttClient; sessionPresent: boolean } | undefined
    const got: string[] = []
    for (let attempt = 2; attempt < 8; attempt++) {
      const c = await connectSession(port, backend, { clientId: 'fleet-backend-w', clean: false })
      c.client.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`))
      if (await workerOf('fleet-backend-w', attempt) !== setupWorker) { back = c; break }
      // same worker: disconnect before the queue is read (a QoS 1 message not acknowledged stays)
      await end(c.client)
    }
    expect(back, 'the backend reached the other worker').to.not.equal(undefined)
    clients.push(back!.client)
    expect(back!.sessionPresent).to.equal(true)
    // telemetry queued while away (some may have gone to a same-worker attempt: those are acknowledged there)
    await until(() => got.some((g) => g.endsWith('telemetry/speed 4')), 5000, 'queued telemetry on the other worker')
    // the retained status, read by a monitor on the worker the car is not on
    let monitor: MqttClient | undefined
    for (let attempt = 1; attempt < 8 && monitor === undefined; attempt++) {
      const m = await connect(port, credentials(pki.dir, pki.monitor), { clientId: 'fleet-monitor-w' })
      if (await workerOf('fleet-monitor-w', attempt) !== carWorker) monitor = m
      else await end(m)
    }
    expect(monitor, 'a monitor on the other worker').to.not.equal(undefined)
    clients.push(monitor!)
    const retained = new Promise<string>((resolve) => monitor!.once('message', (_t, p, packet) => { if (packet.retain) resolve(p.toString()) }))
    await monitor!.subscribeAsync(`vehicles/${vin}/status`, { qos: 1 })
    expect(await retained).to.equal('online')
  })

  it('a TLS session ticket from one worker resumes on the other (the ticket keys are shared through Redis)', async () => {
    const creds: Credentials = credentials(pki.dir, pki.vehicle(1))
    const vin = pki.vins[1]!
    const first = await connectWithTicket(port, creds, { clientId: vin })
    expect(first.returnCode).to.equal(0)
    let session = first.session
    const workers = new Set<number>([await workerOf(vin, 1)])
    for (let n = 2; n <= 5 && workers.size < 2; n++) {
      const again = await connectWithTicket(port, creds, { clientId: vin, session })
      expect(again.resumed, `connect #${n} resumed`).to.equal(true)
      expect(again.returnCode).to.equal(0)
      session = again.session ?? session
      workers.add(await workerOf(vin, n))
    }
    expect(workers.size, 'resumed on both workers').to.equal(2)
  })

  it('clientId takeover across workers: the newer connection stays, the older one is closed', async () => {
    const vin = pki.vins[1]!
    const creds = credentials(pki.dir, pki.vehicle(1))
    const before = allowed(vin).length
    const older = await connect(port, creds, { clientId: vin })
    const olderWorker = await workerOf(vin, before + 1)
    let newer: MqttClient | undefined
    for (let k = 2; k < 8 && newer === undefined; k++) {
      const olderClosed = new Promise<void>((resolve) => older.once('close', () => resolve()))
      const c = await connect(port, creds, { clientId: vin })
      if (await workerOf(vin, before + k) !== olderWorker) { newer = c; await olderClosed; break }
      await end(c)
    }
    expect(newer, 'a connection on the other worker').to.not.equal(undefined)
    clients.push(newer!)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(newer!.connected).to.equal(true)
  })

  it('a revocation ends the session on whichever worker holds it', async () => {
    const vin = pki.vins[2]!
    const car = await connect(port, credentials(pki.dir, pki.vehicle(2)), { clientId: vin })
    const worker = await workerOf(vin, 1)
    const closed = new Promise<void>((resolve) => car.once('close', () => resolve()))
    const r = await runCli(['revoke', '--cert', join(pki.vehicle(2), 'cert.pem'), '--reason', 'keyCompromise', '--redis', redis.url])
    expect(r.code, r.stderr).to.equal(0)
    await closed
    car.end(true)
    await until(() => lines().some((l) => l.evt === 'revocation.kick' && l.worker === worker), 5000, `revocation.kick by worker ${worker}`)
  })

  it('one metrics view and /readyz for the node', async () => {
    const live = clients.filter((c) => c.connected).length
    expect(await metric('fleetgate_sessions')).to.equal(live)
    expect(await metric('fleetgate_workers')).to.equal(2)
    const r = await readyz()
    expect(r.status).to.equal(200)
    expect(r.body.checks).to.include({ workers: '2/2 ready', sessions: live })
  })

  it('a worker killed is logged and restarted', async () => {
    const pids = execFileSync('pgrep', ['-P', String(node.child.pid)]).toString().trim().split('\n').map(Number)
    expect(pids).to.have.length(2)
    process.kill(pids[0]!, 'SIGKILL')
    await until(() => /worker \d \(pid \d+\) died \(SIGKILL\); restarting it/.test(node.stderr()), 5000, 'death logged')
    await until(() => /worker \d \(pid \d+\) back/.test(node.stderr()), 15_000, 'worker back')
    await until(async () => (await readyz()).status === 200, 10_000, 'ready again')
    expect(await metric('fleetgate_worker_restarts_total')).to.equal(1)
    expect(lines().some((l) => l.evt === 'worker.exit' && l.worker === 'primary')).to.equal(true)
  })

  it('SIGHUP on the primary reloads every worker', async () => {
    node.child.kill('SIGHUP')
    await until(() => /worker 1: reloaded/.test(node.stderr()) && /worker 2: reloaded/.test(node.stderr()), 10_000, 'both workers reloaded')
  })

  it('SIGTERM drains every worker (not ready at once, Wills not published) and the primary exits 0', async () => {
    const wills: string[] = []
    const watcher = await connect(other.port, credentials(pki.dir, pki.monitor), { clientId: 'fleet-monitor-wills' })
    clients.push(watcher)
    // (the retained status of the first test comes at SUBSCRIBE: not a Will)
    watcher.on('message', (topic, _p, packet) => { if (!packet.retain) wills.push(topic) })
    await watcher.subscribeAsync('vehicles/+/status', { qos: 1 })
    const vin = pki.vins[3]!
    const car = await connect(port, credentials(pki.dir, pki.vehicle(3)), { clientId: vin, will: { topic: `vehicles/${vin}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } })
    clients.push(car)
    const exited = new Promise<number | null>((resolve) => node.child.once('exit', (code) => resolve(code)))
    node.child.kill('SIGTERM')
    await until(async () => (await readyz()).status === 503, 2000, 'not ready while draining')
    expect(await exited).to.equal(0)
    expect(node.stderr()).to.match(/worker 1: drained/).and.to.match(/worker 2: drained/)
    expect(lines().filter((l) => l.evt === 'drain.kick').length).to.be.at.least(1)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(wills).to.deep.equal([])
  })
})
