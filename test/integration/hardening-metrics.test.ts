// --metrics-port: Prometheus text on 127.0.0.1, decisions by evt and reason.
import { expect } from 'chai'
import { request, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { freePort } from '../harness/ports.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { credentials, connect, tryConnect, end } from '../harness/mqtt.js'

function get (port: number, path: string, host = '127.0.0.1'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET' }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('hardening: metrics (--metrics-port)', function () {
  this.timeout(20_000)
  let pki: TestPki
  let broker: TestBroker
  let metricsPort: number

  before(async () => {
    pki = await testPki()
    metricsPort = await freePort()
    broker = await startTestBroker(pki.dir, { metricsPort })
  })
  after(async () => { await broker?.close() })

  it('serves fleetgate_decisions_total{evt,reason} and live sessions over HTTP GET /metrics', async () => {
    const car = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: pki.vins[0] })
    const wrongId = await tryConnect(broker.port, credentials(pki.dir, pki.vehicle(1)), { clientId: 'not-the-vin' })
    expect(wrongId.ok).to.equal(false)
    await broker.audit.waitFor('connect.deny', { reason: 'client_id_mismatch' })
    const r = await get(metricsPort, '/metrics')
    expect(r.status).to.equal(200)
    expect(r.type).to.match(/text\/plain/)
    expect(r.body).to.include('fleetgate_decisions_total{evt="connect.allow",reason="ok"} 1')
    expect(r.body).to.include('fleetgate_decisions_total{evt="connect.deny",reason="client_id_mismatch"} 1')
    expect(r.body).to.match(/^fleetgate_sessions 1$/m)
    await end(car)
    expect((await get(metricsPort, '/other')).status).to.equal(404)
  })

  it('listens on 127.0.0.1 only', async () => {
    expect(broker.metrics?.port).to.equal(metricsPort)
    const err = await get(metricsPort, '/metrics', '127.0.0.2').then(() => null, (e: NodeJS.ErrnoException) => e)
    expect(err?.code).to.equal('ECONNREFUSED')
  })
})

describe('hardening: a start that fails past its stores, in cluster mode', function () {
  this.timeout(30_000)
  let redis: TestRedis | undefined
  after(async () => { await redis?.stop() })

  /** a loopback port held by another server for the test */
  async function takenPort (): Promise<{ port: number; release (): void }> {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    return { port: (taken.address() as AddressInfo).port, release: () => { taken.close() } }
  }

  for (const [what, input] of [
    ['a metrics port that cannot be had', (port: number) => ({ metricsPort: port })],
    ['an MQTT port that cannot be had', (port: number) => ({ port })],
  ] as const) {
    it(`${what}: start fails with the error, and lets go of every Redis link it opened`, async () => {
      const pki = await testPki()
      redis ??= await startRedis()
      const taken = await takenPort()
      const admin = new Redis(redis.url)
      try {
        const clients = async () => String(await admin.call('CLIENT', 'LIST')).trim().split('\n').length
        const before = await clients()
        const err = await startTestBroker(pki.dir, { redis: redis.url, host: '127.0.0.1', ...input(taken.port) }).then(() => null, (e: Error) => e)
        expect(err, 'startBroker should refuse a taken port').to.be.an('error')
        // the broker's Redis links (Aedes' persistence, the emitter's two, fleetgate's stores) are gone
        const deadline = Date.now() + 5000
        let after = await clients()
        while (after > before && Date.now() < deadline) { await new Promise((resolve) => setTimeout(resolve, 100)); after = await clients() }
        expect(after).to.equal(before)
      } finally {
        admin.disconnect()
        taken.release()
      }
    })
  }
})
