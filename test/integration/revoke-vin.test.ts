// Issue 22 items 4 and 5, through the real thing: the broker (in process), a
// real `fleetgate provisioner` process and the real `fleetgate revoke` CLI on
// one store, MQTT.js clients over mTLS.
// 4. Every command that opens Redis takes the broker's --redis-prefix /
//    FLEETGATE_REDIS_PREFIX: with a custom prefix, a re-provisioned car's old
//    certificate is refused (the provisioner's revocation lands where the
//    broker reads).
// 5. `fleetgate revoke --vin <VIN>` revokes every certificate the registry
//    knows for the car, rotation successors included, and closes their live
//    sessions; on Redis and on the embedded store.
import { expect } from 'chai'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { closed, end } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'
import { randomVin, generateKey } from '../../src/pki/index.js'
import { buildCsr } from '../../src/provisioning/index.js'
import { exchange } from '../../simulator/provisioning.js'
import { connectAs, connectOutcome, fingerprintOf, issued, keyPem, startProvisionerCli, type ProvisionerProcess } from './provisioning-support.js'

const PREFIX = 'fleet-a:'

describe('provisioner and revoke on the broker\'s store (issue 22 items 4, 5)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let redis: TestRedis
  before(async function () {
    pki = await testPki()
    redis = await startRedis()
  })
  after(async function () { await redis?.stop() })

  /** a car provisioned with its birth certificate: its certificate, key and the birth credentials */
  async function provisionCar (broker: TestBroker, name: string) {
    const vin = randomVin()
    const birthDir = await pki.extra(name, 'factory', vin)
    const birth = { cert: readFileSync(join(birthDir, 'cert.pem')), key: readFileSync(join(birthDir, 'key.pem')) }
    const viaBirth = async () => {
      const key = generateKey()
      const b = await connectAs(pki, broker.port, birth.cert, birth.key, vin)
      try {
        const r = issued(await exchange(b, 'provision', vin, buildCsr(key, [['CN', vin]]), { timeoutMs: 10_000 }))
        return { certPem: r.certificate + r.chain, key: keyPem(key), fp: fingerprintOf(r.certificate) }
      } finally { await end(b) }
    }
    return { vin, viaBirth }
  }

  /** online with `cert`, then a rotation to a new key (the successor is issued, not connected yet) */
  async function onlineAndRotated (broker: TestBroker, vin: string, cert: { certPem: string; key: Buffer; fp: string }) {
    const live = await connectAs(pki, broker.port, cert.certPem, cert.key, vin)
    await broker.audit.waitFor('registry.first_connect', { vin, fp: cert.fp })
    const nextKey = generateKey()
    const r = issued(await exchange(live, 'rotate', vin, buildCsr(nextKey, [['CN', vin]]), { timeoutMs: 10_000 }))
    return { live, successor: { certPem: r.certificate + r.chain, key: keyPem(nextKey), fp: fingerprintOf(r.certificate) } }
  }

  describe(`Redis with --redis-prefix ${PREFIX}`, function () {
    let broker: TestBroker
    let prov: ProvisionerProcess
    let db: Redis
    const open: MqttClient[] = []
    before(async function () {
      broker = await startTestBroker(pki.dir, { redis: redis.url, redisPrefix: PREFIX })
      // the provisioner takes the prefix from the environment, as `serve` does
      prov = await startProvisionerCli(pki, broker.port, ['--redis', redis.url], { env: { FLEETGATE_REDIS_PREFIX: PREFIX } })
      db = new Redis(redis.url)
    })
    afterEach(async function () { await end(...open.splice(0)) })
    after(async function () {
      await prov?.stop()
      await db?.quit()
      await broker?.close()
    })

    it('a re-provisioned car\'s old certificate is refused; the provisioner wrote under the prefix only', async function () {
      const car = await provisionCar(broker, 'prefix-reprov')
      const first = await car.viaBirth()
      expect(await connectOutcome(pki, broker.port, first.certPem, first.key, car.vin)).to.equal('connected')
      const second = await car.viaBirth() // the car lost its key: a re-provisioning revokes the earlier certificate
      await prov.waitLine('provision.retired', { vin: car.vin, fp: first.fp, reason: 'keyCompromise' })
      expect(await connectOutcome(pki, broker.port, first.certPem, first.key, car.vin)).to.equal('refused rc=5')
      expect(await connectOutcome(pki, broker.port, second.certPem, second.key, car.vin)).to.equal('connected')
      expect(await db.hlen(`${PREFIX}certs:${car.vin}`)).to.equal(2)
      expect(await db.keys('fleetgate:*')).to.deep.equal([])
    })

    it('revoke --redis-prefix --vin revokes the car\'s certificate and its rotation successor, and closes the live session', async function () {
      const car = await provisionCar(broker, 'prefix-revoke-vin')
      const { live, successor } = await onlineAndRotated(broker, car.vin, await car.viaBirth())
      open.push(live)
      const closing = closed(live, 8000)
      const r = await runCli(['revoke', '--redis', redis.url, '--redis-prefix', PREFIX, '--vin', car.vin, '--reason', 'keyCompromise'])
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout.trim().split('\n')).to.have.length(2)
      expect(r.stdout).to.contain(successor.fp).and.to.contain(`prefix ${PREFIX}`)
      await closing
      await broker.audit.waitFor('revocation.kick', { reason: 'revoked' })
      expect(await connectOutcome(pki, broker.port, successor.certPem, successor.key, car.vin)).to.equal('refused rc=5')
      const states = Object.values(await db.hgetall(`${PREFIX}certs:${car.vin}`)).map((v) => (JSON.parse(v) as { state: string }).state)
      expect(states).to.deep.equal(['revoked', 'revoked'])
    })
  })

  describe('the embedded store', function () {
    let broker: TestBroker
    let prov: ProvisionerProcess
    let dataDir: string
    const open: MqttClient[] = []
    before(async function () {
      dataDir = mkdtempSync(join(tmpdir(), 'fg-revoke-vin-'))
      broker = await startTestBroker(pki.dir, { dataDir })
      prov = await startProvisionerCli(pki, broker.port, ['--data-dir', dataDir])
    })
    afterEach(async function () { await end(...open.splice(0)) })
    after(async function () {
      await prov?.stop()
      await broker?.close()
    })

    it('revoke --data-dir --vin revokes the car\'s certificate and its rotation successor, and closes the live session', async function () {
      const car = await provisionCar(broker, 'file-revoke-vin')
      const first = await car.viaBirth()
      const { live, successor } = await onlineAndRotated(broker, car.vin, first)
      open.push(live)
      const closing = closed(live, 8000)
      const r = await runCli(['revoke', '--data-dir', dataDir, '--vin', car.vin], { env: { REDIS_URL: '' } })
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout).to.contain(first.fp).and.to.contain(successor.fp)
      await closing
      const kick = await broker.audit.waitFor('revocation.kick', { reason: 'revoked' })
      expect((kick.cert as { fp?: string }).fp).to.equal(first.fp)
      expect(await connectOutcome(pki, broker.port, successor.certPem, successor.key, car.vin)).to.equal('refused rc=5')
      expect(await connectOutcome(pki, broker.port, first.certPem, first.key, car.vin)).to.equal('refused rc=5')
    })

    it('revoke --vin: exit 1 when the registry knows no certificate of the VIN; exit 2 for a bad VIN or two modes', async function () {
      const unknown = await runCli(['revoke', '--data-dir', dataDir, '--vin', randomVin()], { env: { REDIS_URL: '' } })
      expect(unknown.code).to.equal(1)
      expect(unknown.stderr).to.match(/knows no certificate of VIN/)
      const bad = await runCli(['revoke', '--data-dir', dataDir, '--vin', 'NOT-A-VIN'], { env: { REDIS_URL: '' } })
      expect(bad.code).to.equal(2)
      expect(bad.stderr).to.match(/FG_ERR_CONFIG_INVALID: --vin NOT-A-VIN: not a VIN/)
      const two = await runCli(['revoke', '--data-dir', dataDir, '--vin', randomVin(), '--fingerprint', 'ab'.repeat(32)], { env: { REDIS_URL: '' } })
      expect(two.code).to.equal(2)
      expect(two.stderr).to.match(/FG_ERR_USAGE: give exactly one of/)
    })
  })
})
