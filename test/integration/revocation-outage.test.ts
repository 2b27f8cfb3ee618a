// Redis outages (issue: fail closed, bounded calls, recovery, a revocation made
// while a node was cut off enforced after it reconnects). The broker is built the
// library way (createFleetgate + Aedes + tls.Server) so that MQTT persistence
// stays in memory and only the revocation links go through a TCP proxy we can cut.
import { expect } from 'chai'
import { createServer as createNetServer, connect as netConnect, type Server as NetServer, type Socket } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import type { MqttClient } from 'mqtt'
import { Redis } from 'ioredis'
import { createFleetgate, composeHooks, type Fleetgate } from '../../src/broker/index.js'
import { RedisRevocationStore } from '../../src/revocation/index.js'
import type { ConfigInput } from '../../src/config/index.js'
import { randomVin } from '../../src/pki/index.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { AuditSink } from '../harness/audit-sink.js'
import { connect, credentials, tryConnect, closed, end } from '../harness/mqtt.js'
import { redisCli, fingerprintOf } from './revocation-helpers.js'

/** A TCP proxy in front of Redis: pass, cut (connections dropped and refused) or stall (silent). */
class CuttableProxy {
  mode: 'pass' | 'cut' | 'stall' = 'pass'
  readonly #sockets = new Set<Socket>()
  #server: NetServer | null = null
  port = 0
  constructor (readonly target: number) {}
  async start (): Promise<void> {
    this.#server = createNetServer((c) => {
      if (this.mode === 'cut') { c.destroy(); return }
      const u = netConnect(this.target, '127.0.0.1')
      for (const s of [c, u]) { this.#sockets.add(s); s.on('close', () => { this.#sockets.delete(s); c.destroy(); u.destroy() }); s.on('error', () => {}) }
      c.on('data', (d) => { if (this.mode === 'pass') u.write(d) })
      u.on('data', (d) => { if (this.mode === 'pass') c.write(d) })
    })
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as AddressInfo).port
  }
  cut (): void { this.mode = 'cut'; for (const s of this.#sockets) s.destroy() }
  stall (): void { this.mode = 'stall' }
  restore (): void { this.mode = 'pass' }
  async stop (): Promise<void> { this.cut(); await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve()) }
}

interface LibBroker { fg: Fleetgate; audit: AuditSink; port: number; close (): Promise<void> }

async function libraryBroker (pkiDir: string, input: ConfigInput): Promise<LibBroker> {
  const audit = new AuditSink('debug')
  const fg = await createFleetgate({
    port: 0, host: '127.0.0.1', ca: join(pkiDir, 'root-ca.pem'), cert: join(pkiDir, 'broker', 'cert.pem'), key: join(pkiDir, 'broker', 'key.pem'), ...input,
  }, { logger: audit.logger })
  const broker = await Aedes.createBroker({ ...composeHooks(fg.hooks) })
  fg.attach(broker)
  const server: TlsServer = createTlsServer(fg.tlsOptions(), fg.connectionHandler(broker))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    fg, audit, port: (server.address() as AddressInfo).port,
    async close () {
      await new Promise<void>((resolve) => { server.close(() => resolve()); for (const c of Object.values((broker as unknown as { clients: Record<string, { conn: { destroy (): void } }> }).clients)) c.conn.destroy() })
      await new Promise<void>((resolve) => broker.close(() => resolve()))
      await fg.close()
    },
  }
}

const ENTRY = '{"reason":"keyCompromise","revokedAt":"2026-01-01T00:00:00Z"}'

describe('revocation when Redis is unreachable', function () {
  this.timeout(40_000)
  let redis: TestRedis
  let pki: TestPki
  let proxy: CuttableProxy
  let b: LibBroker | undefined
  const clients: MqttClient[] = []
  const car = async (name: string) => { const vin = randomVin(); return { vin, dir: await pki.extra(name, 'vehicle', vin) } }

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
  })
  beforeEach(async () => { proxy = new CuttableProxy(redis.port); await proxy.start() })
  afterEach(async () => { await end(...clients.splice(0)); await b?.close(); b = undefined; await proxy.stop() })
  after(async () => { await redis?.stop() })

  it('fails closed for an unknown certificate, admits one checked clean within --revocation-cache, and recovers', async () => {
    b = await libraryBroker(pki.dir, { redis: `redis://127.0.0.1:${proxy.port}`, revocationCache: '60s', revocationTimeout: '300ms' })
    const known = await car('ro-known')
    const fresh = await car('ro-fresh')
    const first = await connect(b.port, credentials(pki.dir, known.dir), { clientId: known.vin })
    await first.endAsync()
    proxy.cut()
    const t0 = Date.now()
    const o = await tryConnect(b.port, credentials(pki.dir, fresh.dir), { clientId: fresh.vin })
    expect(o.ok).to.equal(false)
    if (!o.ok) expect(o.returnCode).to.equal(5)
    expect(Date.now() - t0).to.be.below(2000)
    await b.audit.waitFor('connect.deny', { reason: 'revocation_unavailable' })
    const again = await connect(b.port, credentials(pki.dir, known.dir), { clientId: known.vin })
    clients.push(again)
    await b.audit.waitFor('revocation.cached')
    proxy.restore()
    const deadline = Date.now() + 10_000
    let ok = false
    while (!ok && Date.now() < deadline) {
      const r = await tryConnect(b.port, credentials(pki.dir, fresh.dir), { clientId: fresh.vin })
      if (r.ok) { ok = true; clients.push(r.client) } else await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(ok, 'no recovery within 10 s of Redis coming back').to.equal(true)
  })

  it('bounds a lookup when Redis stops answering (--revocation-timeout): refused, never hung', async () => {
    b = await libraryBroker(pki.dir, { redis: `redis://127.0.0.1:${proxy.port}`, revocationCache: '0s', revocationTimeout: '200ms' })
    const v = await car('ro-stall')
    proxy.stall()
    const t0 = Date.now()
    const o = await tryConnect(b.port, credentials(pki.dir, v.dir), { clientId: v.vin })
    expect(o.ok).to.equal(false)
    expect(Date.now() - t0).to.be.below(1500)
    const line = await b.audit.waitFor('connect.deny', { reason: 'revocation_unavailable' })
    expect(String(line.detail)).to.match(/timed out|within 200 ms/)
  })

  it('enforces a revocation made while the node was cut off, once it reconnects', async () => {
    b = await libraryBroker(pki.dir, { redis: `redis://127.0.0.1:${proxy.port}`, revocationRecheck: '1h' })
    const v = await car('ro-missed')
    const c = await connect(b.port, credentials(pki.dir, v.dir), { clientId: v.vin })
    clients.push(c)
    proxy.cut()
    const fp = fingerprintOf(join(v.dir, 'cert.pem'))
    await redisCli(redis.port, 'HSET', 'fleetgate:revoked:cert', fp, ENTRY)
    await redisCli(redis.port, 'PUBLISH', 'fleetgate:revocations', JSON.stringify({ fingerprint: fp })) // nobody hears it
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(c.connected).to.equal(true)
    proxy.restore()
    await closed(c, 8000)
    const kick = await b.audit.waitFor('revocation.kick', { reason: 'revoked' })
    expect(kick.via).to.equal('recheck')
    await b.audit.waitFor('revocation.resync')
  })

  it('--revocation-fail-open admits, and logs each admission at error level', async () => {
    b = await libraryBroker(pki.dir, { redis: `redis://127.0.0.1:${proxy.port}`, revocationFailOpen: true, revocationCache: '0s', revocationTimeout: '200ms' })
    const v = await car('ro-failopen')
    proxy.cut()
    const c = await connect(b.port, credentials(pki.dir, v.dir), { clientId: v.vin })
    clients.push(c)
    const line = await b.audit.waitFor('revocation.fail_open')
    expect(line.level).to.equal('error')
  })

  it('a subscriber link that cannot connect fails the watch (FG_ERR_REDIS_UNAVAILABLE) and is dropped, not left retrying', async () => {
    // Redis refuses the third client: this checker and the store's command link get in, its subscriber link does not
    const checker = new Redis(redis.url)
    const rejected = async () => Number(/rejected_connections:(\d+)/.exec(await checker.info('stats'))![1])
    await checker.config('SET', 'maxclients', '2')
    const store = await RedisRevocationStore.open({ url: redis.url, timeoutMs: 500 })
    try {
      const before = await rejected()
      let err: (Error & { code?: string }) | undefined
      try { await store.watch(() => {}) } catch (e) { err = e as Error & { code?: string } }
      expect(err?.code).to.equal('FG_ERR_REDIS_UNAVAILABLE')
      expect(err?.message).to.match(/^--redis redis:\/\/127\.0\.0\.1:\d+\/?, subscriber link: /)
      const afterFailure = await rejected()
      expect(afterFailure).to.be.above(before)
      // a link left retrying (50 ms more per attempt) would be refused again within this wait
      await new Promise((resolve) => setTimeout(resolve, 1500))
      expect(await rejected()).to.equal(afterFailure)
    } finally {
      await store.close()
      await checker.config('SET', 'maxclients', '10000')
      checker.disconnect()
    }
  })

  it('Redis killed mid-run: refused while down, served again after it restarts', async () => {
    b = await libraryBroker(pki.dir, { redis: redis.url, revocationCache: '0s', revocationTimeout: '300ms' })
    const v = await car('ro-kill')
    await redis.stop()
    try {
      const o = await tryConnect(b.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      expect(o.ok).to.equal(false)
      await b.audit.waitFor('connect.deny', { reason: 'revocation_unavailable' })
    } finally {
      await redis.start()
    }
    const deadline = Date.now() + 10_000
    let ok = false
    while (!ok && Date.now() < deadline) {
      const r = await tryConnect(b.port, credentials(pki.dir, v.dir), { clientId: v.vin })
      if (r.ok) { ok = true; clients.push(r.client) } else await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(ok).to.equal(true)
  })
})
