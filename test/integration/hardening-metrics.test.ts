// --metrics-port: Prometheus text on 127.0.0.1, decisions by evt and reason.
import { expect } from 'chai'
import { request } from 'node:http'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { freePort } from '../harness/ports.js'
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
