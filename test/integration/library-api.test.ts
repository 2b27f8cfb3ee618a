// The plugin as a library (README "Use fleetgate in your own Aedes broker"):
// the broker below is built exactly as the README shows.
import { expect } from 'chai'
import tls from 'node:tls'
import { join } from 'node:path'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { AddressInfo } from 'node:net'
import { Aedes, type Client, type PublishPacket } from 'aedes'
import {
  createFleetgate, startBroker, composeHooks, createMq, FleetgateError, ERROR_CODES, CONNECT_REASONS, type Fleetgate,
  type ConnectCheck, type PublishCheck, type SubscribeCheck,
} from '../../src/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { AuditSink } from '../harness/audit-sink.js'
import { credentials, connect, tryConnect, closed, collect, end, subackCodes } from '../harness/mqtt.js'

describe('library API: createFleetgate + composeHooks on your own Aedes broker', function () {
  this.timeout(20_000)
  let pki: TestPki
  let fg: Fleetgate
  let broker: Aedes
  let server: tls.Server
  let port: number
  const audit = new AuditSink('debug')
  const seenByQuota: string[] = []
  const sent = new Map<string, number>()

  before(async () => {
    pki = await testPki()
    const ca = join(pki.dir, 'root-ca.pem')
    const cert = join(pki.dir, 'broker', 'cert.pem')
    const key = join(pki.dir, 'broker', 'key.pem')

    // Your own hook: at most 3 messages per client. It runs only for what fleetgate allowed.
    function myQuota (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void) {
      seenByQuota.push(packet.topic)
      const n = (sent.get(client?.id ?? '') ?? 0) + 1
      sent.set(client?.id ?? '', n)
      callback(n > 3 ? new Error('quota exceeded') : null)
    }

    // ---- README example, verbatim (the logger option aside) ----
    const fg_ = await createFleetgate({ ca, cert, key }, { logger: audit.logger })
    const broker_ = await Aedes.createBroker({ ...composeHooks(fg_.hooks, { authorizePublish: myQuota }), mq: createMq() })
    const server_ = tls.createServer(fg_.tlsOptions(), fg_.connectionHandler(broker_))
    fg_.attach(broker_)
    server_.listen(0, '127.0.0.1')
    // ---- end of README example ----

    fg = fg_; broker = broker_; server = server_
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    port = (server.address() as AddressInfo).port
  })
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    await fg.close()
  })

  it('exports the factory, composeHooks, errors and reasons', () => {
    expect(new FleetgateError('FG_ERR_CONFIG_INVALID', 'x').code).to.equal('FG_ERR_CONFIG_INVALID')
    expect(ERROR_CODES).to.have.property('FG_ERR_HOOK_NOT_SUPPORTED')
    expect(CONNECT_REASONS).to.include('too_many_connections')
    expect(() => composeHooks(fg.hooks, { authorisePublish: () => {} } as never)).to.throw(FleetgateError, /authorisePublish/)
  })

  it('admits by certificate; your hook sees only what fleetgate allowed, and its deny stops the chain', async () => {
    const vin = pki.vins[0]!
    const backend = await connect(port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-lib' })
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
    const car = await connect(port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
    const got = collect(backend, 1500, 4)
    for (let i = 1; i <= 3; i++) await car.publishAsync(`vehicles/${vin}/telemetry/speed`, String(i), { qos: 1 })
    // The 4th is within policy but over your quota: the chain stops, the car is closed [MQTT-3.3.5-2].
    car.publish(`vehicles/${vin}/telemetry/speed`, '4', { qos: 1 })
    await closed(car)
    const msgs = await got
    expect(msgs.map((m) => m.payload.toString())).to.deep.equal(['1', '2', '3'])
    expect(seenByQuota).to.deep.equal(Array(4).fill(`vehicles/${vin}/telemetry/speed`))
    // fleetgate did not refuse any of them: the quota did.
    expect(audit.find('publish.deny')).to.have.length(0)
    await end(backend)
  })

  it('a publish fleetgate refuses never reaches your hook', async () => {
    const vin = pki.vins[1]!
    seenByQuota.length = 0
    const car = await connect(port, credentials(pki.dir, pki.vehicle(1)), { clientId: vin })
    car.publish(`vehicles/${pki.vins[2]}/telemetry/speed`, 'spoof', { qos: 1 })
    await closed(car)
    const line = await audit.waitFor('publish.deny', { reason: 'topic_denied' })
    expect(line.reason).to.equal('topic_denied')
    expect(seenByQuota).to.deep.equal([])
  })

  it('the guard and the limits come with connectionHandler and attach', async () => {
    const vin = pki.vins[3]!
    const car = await connect(port, credentials(pki.dir, pki.vehicle(3)), { clientId: vin })
    car.publish(`vehicles/${vin}/telemetry/blob`, Buffer.alloc(1024 * 1024), { qos: 0 })
    await closed(car)
    await audit.waitFor('stream.deny', { reason: 'packet_too_large' })
    expect((broker as unknown as { connectTimeout: number }).connectTimeout).to.equal(fg.config.connectTimeout)
  })

  it('with dev: true and no policy, uses the dev PKI\'s policy.yaml (roles pinned by CA key); with --ca, the shipped one', async () => {
    const dev = await createFleetgate({ dev: true, devPki: pki.dir, dataDir: join(pki.dir, 'tests', 'lib-data') }, { logger: audit.logger })
    try {
      expect(dev.policy.source).to.equal(join(pki.dir, 'policy.yaml'))
    } finally { await dev.close() }
    expect(fg.policy.source).to.match(/default-policy\.yaml$/)
  })

  it('without TLS material createFleetgate and startBroker refuse with FG_ERR_CONFIG_MISSING and make no key; dev: true without a dev PKI too', async () => {
    const base = mkdtempSync(join(tmpdir(), 'fg-lib-nokeys-'))
    const devPki = join(base, 'dev')
    const dataDir = join(base, 'data')
    const refusal = async (start: Promise<unknown>): Promise<FleetgateError> => {
      const err = await start.then(() => null, (e: unknown) => e)
      expect(err).to.be.instanceOf(FleetgateError)
      expect((err as FleetgateError).code).to.equal('FG_ERR_CONFIG_MISSING')
      return err as FleetgateError
    }
    for (const start of [() => createFleetgate({ devPki, dataDir }, { logger: audit.logger }), () => startBroker({ port: 0, devPki, dataDir }, { logger: audit.logger })]) {
      expect((await refusal(start())).message).to.match(/^--ca, --cert and --key are required; .*"fleetgate pki dev"/)
    }
    for (const start of [() => createFleetgate({ dev: true, devPki, dataDir }, { logger: audit.logger }), () => startBroker({ port: 0, dev: true, devPki, dataDir }, { logger: audit.logger })]) {
      expect((await refusal(start())).message).to.equal(`--dev: no dev PKI in ${devPki}; make it with "fleetgate pki dev --dev-pki ${devPki}"`)
    }
    expect(readdirSync(base), 'no dev PKI, no store').to.deep.equal([])
  })
})

describe('library API: your own checks, written against the plugin contract', function () {
  this.timeout(20_000)
  let pki: TestPki
  const audit = new AuditSink('debug')

  before(async () => { pki = await testPki() })

  it('a connect, a publish and a subscribe check of your own decide real connections (CONNACK 5, closed, SUBACK 0x80), each with its reason audited', async () => {
    const [vin, barredVin] = [pki.vins[0]!, pki.vins[1]!]
    // a fleet that bars one car, caps a telemetry value and keeps status to itself
    const barred: ConnectCheck = async (identity) => identity.subject.CN?.[0] === barredVin ? { ok: false, reason: 'no_role', detail: 'car barred by the fleet' } : { ok: true }
    const speedCap: PublishCheck = (_session, packet) => packet.topic.endsWith('/speed') && Number(packet.payload.toString()) > 250 ? { ok: false, reason: 'topic_denied', detail: 'implausible speed' } : { ok: true }
    const noStatus: SubscribeCheck = (_session, filter) => filter.endsWith('/status') ? { ok: false, reason: 'filter_denied', detail: 'status is internal' } : { ok: true }
    const broker = await startBroker({ port: 0, host: '127.0.0.1', ca: join(pki.dir, 'root-ca.pem'), cert: join(pki.dir, 'broker', 'cert.pem'), key: join(pki.dir, 'broker', 'key.pem'), dataDir: mkdtempSync(join(tmpdir(), 'fg-checks-')) },
      { logger: audit.logger, parts: { connectChecks: [barred], publishChecks: [speedCap], subscribeChecks: [noStatus] } })
    try {
      const refused = await tryConnect(broker.port, credentials(pki.dir, pki.vehicle(1)), { clientId: barredVin })
      expect(refused.ok ? 'admitted' : refused.returnCode, 'CONNACK 5').to.equal(5)
      expect((await audit.waitFor('connect.deny', { reason: 'no_role' })).detail).to.equal('car barred by the fleet')

      const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-checks' })
      expect(await subackCodes(backend, [{ topic: 'vehicles/+/telemetry/+', qos: 1 }, { topic: 'vehicles/+/status', qos: 1 }])).to.deep.equal([1, 0x80])
      expect((await audit.waitFor('subscribe.deny', { filter: 'vehicles/+/status' })).detail).to.equal('status is internal')

      const car = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
      const got = collect(backend, 1500, 2)
      await car.publishAsync(`vehicles/${vin}/telemetry/speed`, '120', { qos: 1 })
      car.publish(`vehicles/${vin}/telemetry/speed`, '900', { qos: 1 })
      await closed(car)
      expect((await got).map((m) => m.payload.toString())).to.deep.equal(['120'])
      expect((await audit.waitFor('publish.deny', { reason: 'topic_denied' })).detail).to.equal('implausible speed')
      await end(backend)
    } finally {
      await broker.close()
    }
  })
})

