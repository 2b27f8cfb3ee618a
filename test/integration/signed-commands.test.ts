// Signed commands end to end (README "Signed commands"), broker edge check OFF
// (--no-enforce-signed-commands): a real broker, the real car process (`fleetgate sim car
// --json`), a real MQTT.js backend. Every command here is built with
// node:crypto alone, so the contract, not src/commands, decides what is
// accepted; every refusal is asserted on the car's signed result AND its JSON line.
import { expect } from 'chai'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, connect, collect, end } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'
import { loadCaFiles, issueLeaf } from '../../src/pki/index.js'
import { mkdirSync, writeFileSync } from 'node:fs'
import { CarProcess, ResultInbox, commandBody, rawSigner, resultVerifier, sign, type RawSigner } from './signed-commands-support.js'
import { tamper } from '../unit/commands/raw-jws.js'

describe('signed commands: backend -> broker -> car -> signed result (edge check off)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let broker: TestBroker
  let car: CarProcess
  let backend: MqttClient
  let inbox: ResultInbox
  let vin: string
  let signers: Record<'backend' | 'monitor' | 'rogue' | 'factory', RawSigner>

  before(async () => {
    pki = await testPki()
    vin = pki.vins[0]!
    broker = await startTestBroker(pki.dir, { enforceSignedCommands: false }) // the car decides every case here
    car = await CarProcess.start(broker.port, pki.dir, pki.vehicle(0), vin)
    backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-it' })
    await backend.subscribeAsync(`vehicles/+/command-results`, { qos: 1 })
    inbox = new ResultInbox(backend, resultVerifier(pki.dir))
    // a rogue-CA backend look-alike and a backend certificate from the manufacturing CA
    const rogueCa = await loadCaFiles(join(pki.dir, 'rogue', 'ca.pem'), join(pki.dir, 'rogue', 'ca.key'))
    const rogueLeaf = await issueLeaf(rogueCa, 'fleet-backend', 'fleet-backend')
    const rogueDir = join(pki.dir, 'tests', 'rogue-backend')
    mkdirSync(rogueDir, { recursive: true })
    writeFileSync(join(rogueDir, 'cert.pem'), rogueLeaf.chainPem)
    writeFileSync(join(rogueDir, 'key.pem'), rogueLeaf.keyPem!)
    signers = {
      backend: rawSigner(pki.backend),
      monitor: rawSigner(pki.monitor),
      rogue: rawSigner(rogueDir),
      factory: rawSigner(await pki.extra('factory-backend', 'fleet-backend', 'fleet-backend', { from: 'manufacturing' })),
    }
  })

  after(async () => {
    await end(backend)
    await car?.stop()
    await broker?.close()
  })

  async function send (jws: string, jti: string, topicVin = vin) {
    await backend.publishAsync(`vehicles/${topicVin}/commands`, jws, { qos: 1 })
    const result = await inbox.waitFor(vin, jti)
    const line = await car.waitFor((l) => l.evt === 'command' && l.jti === jti)
    return { result, line }
  }

  async function expectRejected (jws: string, jti: string, reason: string, topicVin = vin) {
    const { result, line } = await send(jws, jti, topicVin)
    expect(result, reason).to.deep.include({ v: 1, vin, jti, status: 'rejected', reason })
    expect(line, reason).to.deep.include({ status: 'rejected', reason, jti })
  }

  it('executes a command signed with node:crypto alone and answers with a signed result (interop)', async () => {
    const b = commandBody(vin, 'unlock')
    const { result, line } = await send(sign(signers.backend, b), b.jti)
    expect(result).to.deep.include({ v: 1, vin, jti: b.jti, status: 'executed' })
    expect(result).to.not.have.property('reason')
    expect(line).to.deep.include({ evt: 'command', status: 'executed', cmd: 'unlock', jti: b.jti })
  })

  describe('each rejection reason, through the broker to the real car', () => {
    it('malformed: alg none (unsigned)', async () => {
      const b = commandBody(vin, 'unlock')
      const h = Buffer.from(JSON.stringify({ alg: 'none', x5c: signers.backend.x5c })).toString('base64url')
      await expectRejected(`${h}.${Buffer.from(JSON.stringify(b)).toString('base64url')}.`, b.jti, 'malformed')
    })
    it('malformed: alg HS256 header', async () => {
      const b = commandBody(vin, 'unlock')
      await expectRejected(sign(signers.backend, b, { alg: 'HS256' }), b.jti, 'malformed')
    })
    it('untrusted_signer: x5c from the rogue CA', async () => {
      const b = commandBody(vin, 'unlock')
      await expectRejected(sign(signers.rogue, b), b.jti, 'untrusted_signer')
    })
    it('untrusted_signer: x5c through the manufacturing CA', async () => {
      const b = commandBody(vin, 'unlock')
      await expectRejected(sign(signers.factory, b), b.jti, 'untrusted_signer')
    })
    it('bad_signature: tampered payload (the edge is off, so it reaches the car)', async () => {
      const b = commandBody(vin, 'lock')
      await expectRejected(tamper(sign(signers.backend, b)), b.jti, 'bad_signature')
    })
    it('insufficient_privileges: signed by the fleet monitor', async () => {
      const b = commandBody(vin, 'unlock')
      await expectRejected(sign(signers.monitor, b), b.jti, 'insufficient_privileges')
    })
    it('wrong_vin: another car\'s command published on this car\'s topic', async () => {
      const b = commandBody(pki.vins[1]!, 'unlock')
      await expectRejected(sign(signers.backend, b), b.jti, 'wrong_vin')
    })
    it('ttl_too_long, not_yet_valid, expired', async () => {
      const now = Date.now()
      const long = commandBody(vin, 'unlock', { iat: now, exp: now + 120_000 })
      await expectRejected(sign(signers.backend, long), long.jti, 'ttl_too_long')
      const future = commandBody(vin, 'unlock', { iat: now + 120_000, exp: now + 150_000 })
      await expectRejected(sign(signers.backend, future), future.jti, 'not_yet_valid')
      const old = commandBody(vin, 'unlock', { iat: now - 120_000, exp: now - 90_000 })
      await expectRejected(sign(signers.backend, old), old.jti, 'expired')
    })
    it('unknown_command, bad_args', async () => {
      const u = commandBody(vin, 'self_destruct')
      await expectRejected(sign(signers.backend, u), u.jti, 'unknown_command')
      const a = commandBody(vin, 'set_charge_limit', { args: { percent: 20 } })
      await expectRejected(sign(signers.backend, a), a.jti, 'bad_args')
    })
    it('replayed: the same signed command twice (QoS 1, retained refused by the broker anyway)', async () => {
      const b = commandBody(vin, 'honk')
      const jws = sign(signers.backend, b)
      const first = await send(jws, b.jti)
      expect(first.result.status).to.equal('executed')
      await backend.publishAsync(`vehicles/${vin}/commands`, jws, { qos: 1 })
      const second = await car.waitFor((l) => l.evt === 'command' && l.jti === b.jti && l.status === 'rejected')
      expect(second.reason).to.equal('replayed')
      // both answers are signed results bound to the same jti
      const deadline = Date.now() + 5000
      while (inbox.countFor(b.jti) < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(inbox.countFor(b.jti)).to.equal(2)
    })
  })

  it('survives any payload: garbage, huge, non-UTF-8; a command with no jti gets no answer', async () => {
    const before = inbox.raw.length
    for (const p of [Buffer.from([0, 255, 254, 10, 13]), Buffer.alloc(64 * 1024, 0x41), Buffer.from('{"v":1}'), Buffer.from('a.b.c'), Buffer.from('')]) {
      await backend.publishAsync(`vehicles/${vin}/commands`, p, { qos: 1 })
    }
    await car.waitFor((l) => l.evt === 'command' && l.reason === 'malformed' && l.answered === false)
    const b = commandBody(vin, 'flash_lights')
    const { result } = await send(sign(signers.backend, b), b.jti)
    expect(result.status).to.equal('executed')
    expect(inbox.raw.length - before).to.equal(1)
    expect(car.child.exitCode).to.equal(null)
  })

  it('`sim backend`: exit 0 and the round-trip time when executed; exit 1 with the reason when rejected', async () => {
    const base = ['sim', 'backend', '--url', `mqtts://localhost:${broker.port}`, '--ca', join(pki.dir, 'root-ca.pem'),
      '--cert', join(pki.backend, 'cert.pem'), '--key', join(pki.backend, 'key.pem'), '--vin', vin]
    const ok = await runCli([...base, '--cmd', 'set_charge_limit', '--args', '{"percent":90}'])
    expect(ok.code, ok.stderr).to.equal(0)
    expect(ok.stdout).to.match(new RegExp(`^executed set_charge_limit for ${vin} in \\d+ ms\\n$`))
    const bad = await runCli([...base, '--cmd', 'set_charge_limit', '--args', '{"percent":101}'])
    expect(bad.code).to.equal(1)
    expect(bad.stdout).to.match(/rejected set_charge_limit for .*: bad_args/)
    const input = await runCli([...base, '--cmd', 'unlock', '--args', 'nope'])
    expect(input.code).to.equal(2)
    expect(input.stderr.trim().split('\n')).to.have.length(1)
    const unknownCar = await runCli([...base.slice(0, -1), pki.vins[2]!, '--cmd', 'unlock', '--timeout', '1s'])
    expect(unknownCar.code).to.equal(1)
    expect(unknownCar.stdout).to.match(/no signed result/)
  })

  it('status: retained online; offline from the car itself on SIGTERM, from its Will when it dies', async () => {
    const vin2 = pki.vins[1]!
    const watcher = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-status' })
    try {
      const car2 = await CarProcess.start(broker.port, pki.dir, pki.vehicle(1), vin2, ['--telemetry-interval', '100ms'])
      const tele = await connect(broker.port, credentials(pki.dir, pki.monitor), { clientId: 'fleet-monitor-status' })
      await tele.subscribeAsync(`vehicles/${vin2}/telemetry/+`, { qos: 0 })
      const streams = await collect(tele, 3000, 3)
      await end(tele)
      expect(streams.map((m) => m.topic).sort()).to.deep.equal(['battery', 'location', 'speed'].map((x) => `vehicles/${vin2}/telemetry/${x}`))
      await watcher.subscribeAsync(`vehicles/${vin2}/status`, { qos: 1 })
      const [status] = await collect(watcher, 2000, 1)
      expect(status?.retain).to.equal(true)
      expect(JSON.parse(status!.payload.toString())).to.deep.equal({ v: 1, state: 'online' })
      const stopping = collect(watcher, 3000, 1)
      await car2.stop('SIGTERM')
      const afterStop = await stopping
      expect(JSON.parse(afterStop[0]!.payload.toString())).to.deep.equal({ v: 1, state: 'offline' })
      // a car that dies: the broker publishes its Will (retained offline)
      const again = collect(watcher, 3000, 1)
      const car3 = await CarProcess.start(broker.port, pki.dir, pki.vehicle(1), vin2)
      expect(JSON.parse((await again)[0]!.payload.toString()).state).to.equal('online')
      const wait = collect(watcher, 5000, 1)
      await car3.stop('SIGKILL')
      const will = await wait
      expect(JSON.parse(will[0]!.payload.toString())).to.deep.equal({ v: 1, state: 'offline' })
      const fresh = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-status2' })
      await fresh.subscribeAsync(`vehicles/${vin2}/status`, { qos: 1 })
      const retained = await collect(fresh, 2000, 1)
      await end(fresh)
      expect(retained[0]?.retain).to.equal(true)
      expect(JSON.parse(retained[0]!.payload.toString()).state).to.equal('offline')
    } finally {
      await end(watcher)
    }
  })
})

describe('sim car: reconnects with backoff when the broker goes away', function () {
  this.timeout(60_000)
  let broker: TestBroker | undefined
  let car: CarProcess | undefined
  after(async () => { await car?.stop(); await broker?.close() })

  it('goes offline, retries, and is online again (and executes commands) once the broker is back', async () => {
    const pki = await testPki()
    const vin = pki.vins[3]!
    broker = await startTestBroker(pki.dir)
    const port = broker.port
    car = await CarProcess.start(port, pki.dir, pki.vehicle(3), vin)
    await broker.close()
    await car.waitFor((l) => l.evt === 'offline', 10_000)
    await car.waitFor((l) => l.evt === 'reconnecting', 10_000)
    broker = await startTestBroker(pki.dir, { port })
    const deadline = Date.now() + 30_000
    while (car.lines.filter((l) => l.evt === 'online').length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(car.lines.filter((l) => l.evt === 'online')).to.have.length(2)
    const backend = await connect(port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-reconnect' })
    try {
      await backend.subscribeAsync(`vehicles/${vin}/command-results`, { qos: 1 })
      const inbox = new ResultInbox(backend, resultVerifier(pki.dir))
      const b = commandBody(vin, 'lock')
      await backend.publishAsync(`vehicles/${vin}/commands`, sign(rawSigner(pki.backend), b), { qos: 1 })
      expect((await inbox.waitFor(vin, b.jti)).status).to.equal('executed')
    } finally { await end(backend) }
    expect(car.child.exitCode).to.equal(null)
  })
})
