// Certificate states and the operator log (README "Certificate states", "Operator
// log"): deactivate ends a live session on another node within 1 s and keeps the
// certificate out (cert_inactive); activate admits it again; a revoked certificate
// cannot be activated (exit 2); `cert history` shows who, when and why, in order.
// Redis (two broker nodes on one real redis-server) and the embedded store.
import { expect } from 'chai'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { MqttClient } from 'mqtt'
import { randomVin } from '../../src/pki/index.js'
import { RedisRevocationStore, setCertificateState } from '../../src/revocation/index.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { closed, collect, connect, credentials, end, subackCodes, tryConnect } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'
import { certOf, elapsedSince, fingerprintOf, redisCli } from './revocation-helpers.js'

const P = 'fleetgate:'

describe('certificate states and the operator log', function () {
  this.timeout(60_000)
  let pki: TestPki
  const clients: MqttClient[] = []
  before(async () => { pki = await testPki() })
  afterEach(async () => { await end(...clients.splice(0)) })

  async function vehicle (name: string): Promise<{ dir: string; vin: string; pem: string; fp: string; serial: string }> {
    const vin = randomVin()
    const dir = await pki.extra(name, 'vehicle', vin)
    const pem = join(dir, 'cert.pem')
    return { dir, vin, pem, fp: fingerprintOf(pem), serial: certOf(pem).serialNumber.toLowerCase().replace(/^0+/, '') }
  }

  describe('on Redis, two nodes', () => {
    let redis: TestRedis
    let a: TestBroker
    let b: TestBroker
    before(async () => {
      redis = await startRedis()
      ;[a, b] = await Promise.all([
        startTestBroker(pki.dir, { redis: redis.url, revocationRecheck: '1h' }),
        startTestBroker(pki.dir, { redis: redis.url, revocationRecheck: '1h' }),
      ])
    })
    after(async () => { await a?.close(); await b?.close(); await redis?.stop() })

    it('deactivate closes the live session on the other node within 1 s; reconnect is refused cert_inactive; activate admits again', async () => {
      const v = await vehicle('st-redis')
      const car = await connect(b.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      clients.push(car)
      // the library, from "node A"'s side: a store of its own on the same Redis
      const store = await RedisRevocationStore.open({ url: redis.url, timeoutMs: 2000 })
      try {
        const t0 = process.hrtime.bigint()
        await setCertificateState(store, [{ fingerprint: v.fp }], { state: 'inactive', by: 'lib-user', reason: 'stolen', at: new Date().toISOString() })
        await closed(car, 1000)
        expect(elapsedSince(t0)).to.be.below(1000)
      } finally { await store.close() }
      const kick = await b.audit.waitFor('revocation.kick', { reason: 'cert_inactive' })
      expect((kick.conn as { clientId: string }).clientId).to.equal(v.vin)
      // the schema as documented: a field in <prefix>state:cert
      expect(JSON.parse((await redisCli(redis.port, 'HGET', `${P}state:cert`, v.fp)))).to.include({ state: 'inactive', by: 'lib-user', reason: 'stolen' })
      for (const node of [a, b]) {
        const o = await tryConnect(node.port, credentials(pki.dir, v.dir), { clientId: v.vin })
        expect(o.ok).to.equal(false)
        if (!o.ok) expect(o.returnCode).to.equal(5)
        await node.audit.waitFor('connect.deny', { reason: 'cert_inactive' })
      }
      const r = await runCli(['cert', 'activate', '--cert', v.pem, '--by', 'alice', '--reason', 'found', '--redis', redis.url])
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout).to.include('active').and.include('by alice')
      const again = await connect(a.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      clients.push(again)
      expect(again.connected).to.equal(true)
      expect(await redisCli(redis.port, 'HEXISTS', `${P}state:cert`, v.fp)).to.equal('0')
    })

    it('control: a car that is not deactivated stays connected (so the test above can fail)', async () => {
      const v = await vehicle('st-control')
      const other = await vehicle('st-other')
      const car = await connect(b.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      clients.push(car)
      const r = await runCli(['cert', 'deactivate', '--fingerprint', other.fp, '--by', 'bob', '--redis', redis.url])
      expect(r.code, r.stderr).to.equal(0)
      await new Promise((resolve) => setTimeout(resolve, 1000))
      expect(car.connected).to.equal(true)
    })

    it('a revoked certificate cannot be activated (exit 2, one line) nor deactivated', async () => {
      const v = await vehicle('st-revoked')
      const rv = await runCli(['revoke', '--cert', v.pem, '--reason', 'keyCompromise', '--by', 'carol', '--note', 'ticket 42', '--redis', redis.url])
      expect(rv.code, rv.stderr).to.equal(0)
      for (const verb of ['activate', 'deactivate']) {
        const r = await runCli(['cert', verb, '--cert', v.pem, '--by', 'dave', '--redis', redis.url])
        expect(r.code).to.equal(2)
        expect(r.stderr.trim().split('\n')).to.have.length(1)
        expect(r.stderr).to.include('FG_ERR_CERT_REVOKED').and.include('final')
      }
      expect(await redisCli(redis.port, 'HEXISTS', `${P}state:cert`, v.fp)).to.equal('0')
    })

    it('cert history shows every revocation and state change with who, when and why, in order (table and --json)', async () => {
      const v = await vehicle('st-history')
      const steps: Array<[string[], string]> = [
        [['cert', 'deactivate', '--reason', 'reported stolen', '--note', 'case 7'], 'erin'],
        [['cert', 'activate', '--reason', 'found'], 'frank'],
        [['revoke', '--reason', 'keyCompromise'], 'grace'],
      ]
      for (const [args, by] of steps) {
        const r = await runCli([...args, '--cert', v.pem, '--by', by, '--redis', redis.url])
        expect(r.code, r.stderr).to.equal(0)
      }
      const j = await runCli(['cert', 'history', v.fp, '--json', '--redis', redis.url])
      expect(j.code, j.stderr).to.equal(0)
      const entries = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; by: string; at: string; reason: string; note: string })
      expect(entries.map((e) => [e.action, e.by, e.reason])).to.deep.equal([['deactivate', 'erin', 'reported stolen'], ['activate', 'frank', 'found'], ['revoke', 'grace', 'keyCompromise']])
      expect(entries[0]!.note).to.equal('case 7')
      const times = entries.map((e) => Date.parse(e.at))
      expect(times.every((t, i) => Number.isFinite(t) && (i === 0 || t >= times[i - 1]!))).to.equal(true)
      const t = await runCli(['cert', 'history', v.fp, '--redis', redis.url])
      expect(t.stdout.split('\n')[0]).to.match(/^WHEN\s+BY\s+ACTION\s+TARGET\s+REASON\s+NOTE/)
      expect(t.stdout).to.include('erin').and.include('reported stolen').and.include('case 7')
      // the stream, as external writers and readers see it
      const db = new Redis(redis.url)
      try {
        const raw = await db.xrange(`${P}oplog`, '-', '+')
        expect(raw.some(([, f]) => f.includes('erin') && f.includes(v.fp))).to.equal(true)
      } finally { db.disconnect() }
      // by serial: the issuer + serial entries (the PEM has no issuer here, so none) -> none, exit 0
      const s = await runCli(['cert', 'history', v.serial, '--redis', redis.url])
      expect(s.code, s.stderr).to.equal(0)
    })

    it('quarantine re-judges a live session on the other node under the quarantine role: its status passes, telemetry is refused and audited; activate switches it back', async () => {
      const v = await vehicle('st-quarantine')
      const backend = await connect(a.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-st-q' })
      clients.push(backend)
      await backend.subscribeAsync([`vehicles/${v.vin}/status`, `vehicles/${v.vin}/telemetry/+`], { qos: 1 })
      let car = await connect(b.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      clients.push(car)
      // a subscription made under its own role: after the switch its deliveries are judged by the quarantine role
      // (the provisioner's rotation answers: a topic the vehicle role receives and the quarantine role does not)
      const provisioner = await connect(a.port, credentials(pki.dir, pki.provisioner), { clientId: `${/CN=([^\n,]+)/.exec(certOf(join(pki.provisioner, 'cert.pem')).subject)![1]!}-st-q` })
      clients.push(provisioner)
      await car.subscribeAsync(`vehicles/${v.vin}/certificate/response`, { qos: 0 })
      const control = collect(car, 3000, 1)
      await provisioner.publishAsync(`vehicles/${v.vin}/certificate/response`, 'before', { qos: 1 })
      expect((await control).map((m) => m.payload.toString())).to.deep.equal(['before'])
      const q = await runCli(['cert', 'quarantine', '--cert', v.pem, '--by', 'ops', '--reason', 'suspect firmware', '--redis', redis.url])
      expect(q.code, q.stderr).to.equal(0)
      const switched = await b.audit.waitFor('policy.rejudge', { role: 'quarantine' }, 1000)
      expect(switched.from).to.equal('vehicle')
      expect(car.connected).to.equal(true)
      // inside the quarantine role: its status reaches the backend on the other node
      let got = collect(backend, 3000, 1)
      await car.publishAsync(`vehicles/${v.vin}/status`, 'quarantined-ok', { qos: 1 })
      expect((await got).map((m) => m.payload.toString())).to.deep.equal(['quarantined-ok'])
      const afterSwitch = collect(car, 1500)
      await provisioner.publishAsync(`vehicles/${v.vin}/certificate/response`, 'after', { qos: 1 })
      expect(await afterSwitch).to.deep.equal([])
      expect(await subackCodes(car, [{ topic: `vehicles/${v.vin}/commands`, qos: 1 }])).to.deep.equal([128])
      expect(await subackCodes(car, [{ topic: `vehicles/${v.vin}/repair/commands`, qos: 1 }])).to.deep.equal([1])
      // outside it: refused and audited, never delivered
      got = collect(backend, 1500)
      car.publish(`vehicles/${v.vin}/telemetry/speed`, '88', { qos: 0 })
      const deny = await b.audit.waitFor('publish.deny', { reason: 'topic_denied' })
      expect(deny.topic).to.equal(`vehicles/${v.vin}/telemetry/speed`)
      expect((await got).filter((m) => m.topic.endsWith('/telemetry/speed'))).to.deep.equal([])
      // it may (re)connect while quarantined: admitted under the quarantine role
      await end(car)
      car = await connect(a.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      clients.push(car)
      expect((await a.audit.waitFor('connect.allow', { role: 'quarantine' })).role).to.equal('quarantine')
      // activate: back under its own role, live
      const act = await runCli(['cert', 'activate', '--cert', v.pem, '--by', 'ops', '--reason', 'reflashed', '--redis', redis.url])
      expect(act.code, act.stderr).to.equal(0)
      await a.audit.waitFor('policy.rejudge', { role: 'vehicle' }, 1000)
      got = collect(backend, 3000, 1)
      await car.publishAsync(`vehicles/${v.vin}/telemetry/speed`, '42', { qos: 1 })
      expect((await got).map((m) => m.payload.toString())).to.deep.equal(['42'])
    })

    it('with --redis-min-replicas a state change waits for a replica exactly like revoke: none confirms -> FG_ERR_REDIS_NOT_REPLICATED, exit 3, one line; the write stands', async () => {
      const v = await vehicle('st-replica')
      const r = await runCli(['cert', 'deactivate', '--cert', v.pem, '--by', 'nina', '--redis', redis.url, '--redis-min-replicas', '1', '--redis-replica-timeout', '300ms'])
      expect(r.code, r.stderr).to.equal(3)
      expect(r.stderr.trim().split('\n')).to.have.length(1)
      expect(r.stderr).to.match(/^FG_ERR_REDIS_NOT_REPLICATED: state change: written to the master but confirmed by 0 of 1 replica/)
      expect(await redisCli(redis.port, 'HEXISTS', `${P}state:cert`, v.fp)).to.equal('1')
    })

    it('an external writer: HSET <prefix>state:cert + PUBLISH with "state" ends the session like the CLI', async () => {
      const v = await vehicle('st-external')
      const car = await connect(a.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      clients.push(car)
      const t0 = process.hrtime.bigint()
      await redisCli(redis.port, 'HSET', `${P}state:cert`, v.fp, JSON.stringify({ state: 'inactive', at: new Date().toISOString(), by: 'ext-ca', reason: 'paused' }))
      await redisCli(redis.port, 'PUBLISH', `${P}revocations`, JSON.stringify({ fingerprint: v.fp, state: 'inactive' }))
      await closed(car, 1500)
      expect(elapsedSince(t0)).to.be.below(1500)
      await a.audit.waitFor('revocation.kick', { reason: 'cert_inactive' })
    })
  })

  describe('on the embedded store', () => {
    let broker: TestBroker
    let dataDir: string
    before(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'fg-states-'))
      broker = await startTestBroker(pki.dir, { dataDir, revocationRecheck: '1h' })
    })
    after(async () => { await broker?.close() })

    it('deactivate from another process closes the session and refuses reconnect; activate admits; history in order', async () => {
      const v = await vehicle('st-file')
      const car = await connect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      clients.push(car)
      const r = await runCli(['cert', 'deactivate', '--cert', v.pem, '--by', 'henry', '--reason', 'investigation', '--data-dir', dataDir])
      expect(r.code, r.stderr).to.equal(0)
      await closed(car, 1000)
      await broker.audit.waitFor('revocation.kick', { reason: 'cert_inactive' })
      const o = await tryConnect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      expect(o.ok).to.equal(false)
      await broker.audit.waitFor('connect.deny', { reason: 'cert_inactive' })
      const act = await runCli(['cert', 'activate', '--cert', v.pem, '--by', 'ivy', '--reason', 'cleared', '--data-dir', dataDir])
      expect(act.code, act.stderr).to.equal(0)
      // the broker's tail reads the file within its poll; retry briefly
      let ok = false
      for (let i = 0; i < 20 && !ok; i++) {
        const c = await tryConnect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
        if (c.ok) { clients.push(c.client); ok = true } else await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(ok).to.equal(true)
      const rv = await runCli(['revoke', '--cert', v.pem, '--by', 'jack', '--data-dir', dataDir])
      expect(rv.code, rv.stderr).to.equal(0)
      const no = await runCli(['cert', 'activate', '--cert', v.pem, '--by', 'kim', '--data-dir', dataDir])
      expect(no.code).to.equal(2)
      expect(no.stderr).to.include('FG_ERR_CERT_REVOKED')
      const h = await runCli(['cert', 'history', v.fp, '--json', '--data-dir', dataDir])
      expect(h.code, h.stderr).to.equal(0)
      const entries = h.stdout.trim().split('\n').map((l) => JSON.parse(l) as { action: string; by: string; reason: string })
      expect(entries.map((e) => [e.action, e.by, e.reason])).to.deep.equal([['deactivate', 'henry', 'investigation'], ['activate', 'ivy', 'cleared'], ['revoke', 'jack', 'unspecified']])
    })

    it('quarantine from another process re-judges the live session: the allowed publish passes, one outside the role is refused and audited', async () => {
      const v = await vehicle('st-file-q')
      const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-st-fq' })
      clients.push(backend)
      await backend.subscribeAsync(`vehicles/${v.vin}/status`, { qos: 1 })
      const car = await connect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      clients.push(car)
      const q = await runCli(['cert', 'quarantine', '--cert', v.pem, '--by', 'lena', '--data-dir', dataDir])
      expect(q.code, q.stderr).to.equal(0)
      await broker.audit.waitFor('policy.rejudge', { role: 'quarantine' }, 1000)
      const got = collect(backend, 3000, 1)
      await car.publishAsync(`vehicles/${v.vin}/status`, 'q', { qos: 1 })
      expect((await got).map((m) => m.payload.toString())).to.deep.equal(['q'])
      car.publish(`vehicles/${v.vin}/telemetry/speed`, '1', { qos: 0 })
      expect((await broker.audit.waitFor('publish.deny', { reason: 'topic_denied' })).topic).to.equal(`vehicles/${v.vin}/telemetry/speed`)
      const h = await runCli(['cert', 'history', v.fp, '--data-dir', dataDir])
      expect(h.stdout).to.match(/lena\s+quarantine/)
    })
  })
})
