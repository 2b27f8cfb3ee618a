// Issue 22 items 1 and 3, through the real thing: the fleetgate broker (in
// process), real `fleetgate provisioner` processes, the embedded store and a
// throwaway redis-server, MQTT.js clients over mTLS.
// 1. A thief holding the car's operational key rotates once (the car's
//    certificate is retired), then sends 8 junk rotations (bad_csr). The car's
//    re-provisioning with its birth certificate must still be issued (separate
//    budgets per channel; only requests that pass the CSR checks count), the
//    thief's certificate revoked and its live session closed.
// 3. One request seen twice (a QoS 1 redelivery; two provisioners on one
//    Redis, both subscribed to every request) gets one certificate, and the
//    car comes online with it.
import { expect } from 'chai'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { closed, end } from '../harness/mqtt.js'
import { randomVin, generateKey } from '../../src/pki/index.js'
import { buildCsr, parseResponseBody, type IssuedResponse } from '../../src/provisioning/index.js'
import { closeStores, openStores, type StoreChoice } from '../../src/stores/index.js'
import { REGISTRY_STORES, REVOCATION_STORES } from '../../src/revocation/index.js'
import { exchange } from '../../simulator/provisioning.js'
import {
  connectAs, connectOutcome, fingerprintOf, issued, keyPem, publishRequest, startProvisionerCli, type ProvisionerProcess,
} from './provisioning-support.js'

/** the broker's revocation store and registry, as the CLI opens them */
const openBoth = (choice: StoreChoice) => openStores(choice, { revocations: REVOCATION_STORES, registry: REGISTRY_STORES })
type Both = Awaited<ReturnType<typeof openBoth>>

const JUNK_CSR = '-----BEGIN CERTIFICATE REQUEST-----\nAAAAAAAA\n-----END CERTIFICATE REQUEST-----\n'

describe('provisioning: recovery and one issuance per request (issue 22)', function () {
  this.timeout(90_000)
  let pki: TestPki
  let redis: TestRedis
  before(async function () {
    pki = await testPki()
    redis = await startRedis()
  })
  after(async function () { await redis?.stop() })

  for (const kind of ['embedded', 'redis'] as const) {
    describe(`a stolen operational key cannot lock the car out (${kind} store)`, function () {
      let broker: TestBroker
      let prov: ProvisionerProcess
      let store: Both
      const open: MqttClient[] = []
      before(async function () {
        const dataDir = mkdtempSync(join(tmpdir(), 'fg-lockout-'))
        broker = await startTestBroker(pki.dir, kind === 'redis' ? { redis: redis.url } : { dataDir })
        // the default rate limit (10 per VIN per hour)
        prov = await startProvisionerCli(pki, broker.port, kind === 'redis' ? ['--redis', redis.url] : ['--data-dir', dataDir])
        store = await openBoth(kind === 'redis' ? { redis: redis.url, dataDir } : { dataDir })
      })
      afterEach(async function () { await end(...open.splice(0)) })
      after(async function () {
        prov?.child.kill('SIGCONT')
        await prov?.stop()
        if (store) await closeStores([store.revocations, store.registry])
        await broker?.close()
      })

      it('thief rotates once, sends 8 junk rotations; the car re-provisions with its birth certificate, the thief is revoked and kicked', async function () {
        const vin = randomVin()
        const birthDir = await pki.extra(`lockout-${kind}`, 'factory', vin)
        const birthCert = readFileSync(join(birthDir, 'cert.pem'))
        const birthKey = readFileSync(join(birthDir, 'key.pem'))
        const track = (c: MqttClient) => { open.push(c); return c }

        // the car provisions with its birth certificate and goes online
        const carKey = generateKey()
        const b1 = track(await connectAs(pki, broker.port, birthCert, birthKey, vin))
        const rCar = issued(await exchange(b1, 'provision', vin, buildCsr(carKey, [['CN', vin]]), { timeoutMs: 10_000 }))
        await end(b1)
        const fpCar = fingerprintOf(rCar.certificate)
        const car = track(await connectAs(pki, broker.port, rCar.certificate + rCar.chain, keyPem(carKey), vin))
        await broker.audit.waitFor('registry.first_connect', { vin, fp: fpCar })
        await end(car)

        // the thief, holding the car's operational key, rotates to a certificate for its own key and connects with it:
        // the car's certificate is retired
        const thiefKey = generateKey()
        const t0 = track(await connectAs(pki, broker.port, rCar.certificate + rCar.chain, keyPem(carKey), vin))
        const rThief = issued(await exchange(t0, 'rotate', vin, buildCsr(thiefKey, [['CN', vin]]), { timeoutMs: 10_000 }))
        await end(t0)
        const fpThief = fingerprintOf(rThief.certificate)
        const thiefCert = rThief.certificate + rThief.chain
        track(await connectAs(pki, broker.port, thiefCert, keyPem(thiefKey), vin))
        await prov.waitLine('provision.retired', { vin, fp: fpCar, trigger: 'first_connect' })
        expect(await connectOutcome(pki, broker.port, rCar.certificate + rCar.chain, keyPem(carKey), vin)).to.equal('refused rc=5')
        let thief = track(await connectAs(pki, broker.port, thiefCert, keyPem(thiefKey), vin))

        // 8 junk rotations: bad_csr each
        for (let i = 0; i < 8; i++) {
          expect(await exchange(thief, 'rotate', vin, JUNK_CSR, { timeoutMs: 10_000 })).to.deep.include({ status: 'rejected', reason: 'bad_csr' })
        }

        // the car, back with its birth certificate, re-provisions while the thief is connected
        // (the provisioner held still so that the thief's session is live when the answer comes)
        const newKey = generateKey()
        const csr = buildCsr(newKey, [['CN', vin]])
        const nonce = randomUUID()
        prov.child.kill('SIGSTOP')
        try {
          const b2 = track(await connectAs(pki, broker.port, birthCert, birthKey, vin)) // takes over the thief's session
          await publishRequest(b2, `provisioning/${vin}/request`, { v: 1, nonce, csr })
          await end(b2)
          thief = track(await connectAs(pki, broker.port, thiefCert, keyPem(thiefKey), vin))
          broker.audit.clear()
        } finally {
          prov.child.kill('SIGCONT')
        }
        // the thief's certificate is revoked and its live session closed
        await closed(thief, 8000)
        const kick = await broker.audit.waitFor('revocation.kick', { reason: 'revoked' }, 8000)
        expect((kick.cert as { fp?: string }).fp).to.equal(fpThief)
        await prov.waitLine('provision.retired', { vin, fp: fpThief, reason: 'keyCompromise', trigger: 'reprovision' })
        expect(await connectOutcome(pki, broker.port, thiefCert, keyPem(thiefKey), vin)).to.equal('refused rc=5')

        // the car gets its certificate (the same nonce: the answer again) and comes online with it
        const b3 = track(await connectAs(pki, broker.port, birthCert, birthKey, vin))
        const rNew = issued(await exchange(b3, 'provision', vin, csr, { nonce, timeoutMs: 10_000 }))
        await end(b3)
        const fpNew = fingerprintOf(rNew.certificate)
        const back = track(await connectAs(pki, broker.port, rNew.certificate + rNew.chain, keyPem(newKey), vin))
        await broker.audit.waitFor('registry.first_connect', { vin, fp: fpNew })
        expect(back.connected).to.equal(true)
        const reg = await store.registry.get(vin)
        expect([reg[fpCar]?.state, reg[fpThief]?.state, reg[fpNew]?.state]).to.deep.equal(['revoked', 'revoked', 'active'])
      })
    })
  }

  /** publish one request twice at once (a redelivery) and collect every answer for its nonce within `ms` */
  async function askTwice (client: MqttClient, vin: string, csr: string, nonce: string, ms: number): Promise<IssuedResponse[]> {
    const answers: IssuedResponse[] = []
    client.on('message', (_t, payload) => {
      const r = parseResponseBody(payload)
      if (r !== null && r.nonce === nonce) answers.push(issued(r))
    })
    await client.subscribeAsync(`provisioning/${vin}/response`, { qos: 1 })
    const body = { v: 1, nonce, csr }
    await Promise.all([publishRequest(client, `provisioning/${vin}/request`, body), publishRequest(client, `provisioning/${vin}/request`, body)])
    const deadline = Date.now() + ms
    while (Date.now() < deadline && answers.length < 4) await new Promise((resolve) => setTimeout(resolve, 50))
    return answers
  }

  for (const kind of ['embedded', 'redis'] as const) {
    const provisioners = kind === 'redis' ? 2 : 1
    it(`one certificate per request: ${provisioners} provisioner(s) on the ${kind} store, each request delivered twice; the car comes online with it`, async function () {
      const dataDir = mkdtempSync(join(tmpdir(), 'fg-once-'))
      const broker = await startTestBroker(pki.dir, kind === 'redis' ? { redis: redis.url } : { dataDir })
      const flags = kind === 'redis' ? ['--redis', redis.url] : ['--data-dir', dataDir]
      const provs: ProvisionerProcess[] = []
      const store = await openBoth(kind === 'redis' ? { redis: redis.url, dataDir } : { dataDir })
      const open: MqttClient[] = []
      try {
        for (let i = 0; i < provisioners; i++) provs.push(await startProvisionerCli(pki, broker.port, flags, { extra: ['--client-id-suffix', `p${i}`, '--rate-limit', '100/h'] }))
        for (let n = 0; n < 4; n++) {
          const vin = randomVin()
          const birthDir = await pki.extra(`once-${kind}-${n}`, 'factory', vin)
          const key = generateKey()
          const nonce = randomUUID()
          const birth = await connectAs(pki, broker.port, readFileSync(join(birthDir, 'cert.pem')), readFileSync(join(birthDir, 'key.pem')), vin)
          open.push(birth)
          const answers = await askTwice(birth, vin, buildCsr(key, [['CN', vin]]), nonce, 1500)
          await end(birth)
          // every answer is the same certificate, and the registry holds exactly one for the VIN
          expect(answers.length).to.be.at.least(1)
          expect(new Set(answers.map((a) => a.certificate)).size, `${vin}: ${answers.length} answers`).to.equal(1)
          const fp = fingerprintOf(answers[0]!.certificate)
          const reg = await store.registry.get(vin)
          expect(Object.keys(reg), `${vin} registry`).to.deep.equal([fp])
          // the car comes online with it; it is active, never revoked
          const car = await connectAs(pki, broker.port, answers[0]!.certificate + answers[0]!.chain, keyPem(key), vin)
          open.push(car)
          await broker.audit.waitFor('registry.first_connect', { vin, fp })
          expect((await store.revocations.status({ targets: [{ fingerprint: fp }] })).revoked).to.equal(null)
          await end(car)
        }
        const issuedLines = provs.flatMap((p) => p.lines().filter((l) => l.evt === 'provision.issued'))
        expect(issuedLines).to.have.length(4)
      } finally {
        await end(...open)
        for (const p of provs) await p.stop()
        await closeStores([store.revocations, store.registry])
        await broker.close()
      }
    })
  }
})
