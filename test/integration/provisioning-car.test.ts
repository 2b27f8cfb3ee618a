// The car's side (issue 7 item 4): `fleetgate sim car --birth-cert --birth-key
// --state-dir` as a real process against the broker, a real provisioner process
// and redis-server: it provisions itself, connects with the new certificate,
// rotates when a third of its life is left, and reports rejections with their
// reason while retrying with backoff.
import { expect } from 'chai'
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { Redis } from 'ioredis'
import { testPki, type TestPki } from '../harness/pki.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startCli, stopChild, BIN } from '../harness/cli.js'
import { connect, end } from '../harness/mqtt.js'
import { randomVin, generateKey } from '../../src/pki/index.js'
import { buildCsr } from '../../src/provisioning/index.js'
import { exchange } from '../../simulator/provisioning.js'

type Ev = Record<string, unknown> & { evt: string }

describe('provisioning: the simulated car (sim car --birth-cert)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let redis: TestRedis
  let broker: TestBroker
  let prov: { child: ChildProcess }
  let db: Redis
  const cars: ChildProcess[] = []

  function startCar (birthDir: string, stateDir: string): { child: ChildProcess; events: Ev[] } {
    const child = spawn(process.execPath, [BIN, 'sim', 'car', '--url', `mqtts://127.0.0.1:${broker.port}`, '--ca', join(pki.dir, 'root-ca.pem'),
      '--birth-cert', join(birthDir, 'cert.pem'), '--birth-key', join(birthDir, 'key.pem'), '--state-dir', stateDir, '--json', '--telemetry-interval', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] })
    cars.push(child)
    const events: Ev[] = []
    let buf = ''
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      const parts = buf.split('\n'); buf = parts.pop()!
      for (const l of parts) if (l.startsWith('{')) events.push(JSON.parse(l) as Ev)
    })
    return { child, events }
  }

  async function waitEvent (events: Ev[], match: Partial<Ev>, nth = 1, timeoutMs = 20_000): Promise<Ev> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hits = events.filter((e) => Object.entries(match).every(([k, v]) => e[k] === v))
      if (hits.length >= nth) return hits[nth - 1]!
      if (Date.now() > deadline) throw new Error(`no event ${JSON.stringify(match)} #${nth}; saw ${events.map((e) => `${e.evt}:${String(e.channel ?? e.reason ?? '')}`).join(', ')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  before(async function () {
    pki = await testPki()
    redis = await startRedis()
    db = new Redis(redis.url)
    broker = await startTestBroker(pki.dir, { redis: redis.url })
    prov = await startCli([
      'provisioner', '--url', `mqtts://127.0.0.1:${broker.port}`, '--ca', join(pki.dir, 'root-ca.pem'),
      '--cert', join(pki.provisioner, 'cert.pem'), '--key', join(pki.provisioner, 'key.pem'),
      '--issuer-cert', join(pki.dir, 'issuing-ca.pem'), '--issuer-key', join(pki.dir, 'issuing-ca.key'),
      '--redis', redis.url, '--rate-limit', '2/h', '--grace', '1h', '--cert-lifetime', '12s',
    ], /fleetgate provisioner: /)
  })

  after(async function () {
    for (const c of cars) await stopChild(c)
    await stopChild(prov?.child)
    await broker?.close()
    await db?.quit()
    await redis?.stop()
  })

  it('provisions from its birth certificate, goes online with the new one, rotates when a third of its life is left', async function () {
    const vin = randomVin()
    const birth = await pki.extra(`car-birth-${vin}`, 'factory', vin)
    const stateDir = join(mkdtempSync(join(tmpdir(), 'fg-car-')), 'state')
    const car = startCar(birth, stateDir)
    const first = await waitEvent(car.events, { evt: 'provisioned', channel: 'provision' })
    await waitEvent(car.events, { evt: 'online' })
    // its key was made locally and kept 0600; the certificate is the one it announced
    expect(statSync(join(stateDir, 'key.pem')).mode & 0o777).to.equal(0o600)
    const onDisk = new X509Certificate(readFileSync(join(stateDir, 'cert.pem')))
    expect(onDisk.fingerprint256.replace(/:/g, '').toLowerCase()).to.equal(first.fingerprint)
    expect(JSON.parse((await db.hget(`fleetgate:certs:${vin}`, first.fingerprint as string))!)).to.include({ state: 'active' })
    // 12 s lifetime: rotation after ~8 s, over the operational connection
    const second = await waitEvent(car.events, { evt: 'provisioned', channel: 'rotate' }, 1, 20_000)
    expect(second.fingerprint).to.not.equal(first.fingerprint)
    await waitEvent(car.events, { evt: 'online' }, 2)
    // the new one connected: the old one is revoked
    const deadline = Date.now() + 8000
    while (JSON.parse((await db.hget(`fleetgate:certs:${vin}`, first.fingerprint as string))!).state !== 'revoked') {
      if (Date.now() > deadline) throw new Error('old certificate not revoked after rotation')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(JSON.parse((await db.hget(`fleetgate:certs:${vin}`, second.fingerprint as string))!)).to.include({ state: 'active' })
    expect(existsSync(join(stateDir, 'cert.pem.tmp'))).to.equal(false)
  })

  it('reports a rejected request with its reason and retries with backoff', async function () {
    const vin = randomVin()
    const birth = await pki.extra(`car-birth-${vin}`, 'factory', vin)
    // use up this VIN's two provisioning requests an hour (only requests that pass the CSR checks count)
    const client = await connect(broker.port, { ca: readFileSync(join(pki.dir, 'root-ca.pem')), cert: readFileSync(join(birth, 'cert.pem')), key: readFileSync(join(birth, 'key.pem')) }, { clientId: vin })
    for (let i = 0; i < 2; i++) await exchange(client, 'provision', vin, buildCsr(generateKey(), [['CN', vin]]), { timeoutMs: 5000 })
    await end(client)
    const car = startCar(birth, join(mkdtempSync(join(tmpdir(), 'fg-car-')), 'state'))
    const rejected = await waitEvent(car.events, { evt: 'provision_rejected', reason: 'rate_limited' })
    expect(rejected.retryInMs).to.be.a('number').and.to.be.greaterThan(0)
    await waitEvent(car.events, { evt: 'provisioning', attempt: 2 })
    const again = await waitEvent(car.events, { evt: 'provision_rejected', reason: 'rate_limited' }, 2)
    expect(again.retryInMs as number).to.be.greaterThan((rejected.retryInMs as number) * 1.1)
  })
})
