// Extra publish checks (library parts, the edge command check): an awaited check
// that finishes after fleetgate ended the session (revoked meanwhile) publishes nothing.
import { expect } from 'chai'
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, collect, closed, end } from '../harness/mqtt.js'
import { randomVin } from '../../src/pki/index.js'

describe('publish checks: a check still running when the session ends', function () {
  this.timeout(30_000)
  let pki: TestPki
  let broker: TestBroker
  let release: (() => void) | undefined
  let started: (() => void) | undefined

  before(async () => {
    pki = await testPki()
    broker = await startTestBroker(pki.dir, {}, {
      parts: {
        publishChecks: [(_session, packet) => packet.topic.endsWith('/telemetry/slow')
          ? new Promise((resolve) => { release = () => resolve({ ok: true }); started?.() })
          : { ok: true }],
      },
    })
  })
  after(async () => { await broker?.close() })

  it('does not publish what a revoked session sent while its check was awaited', async () => {
    const vin = randomVin()
    const dir = await pki.extra('slow-check', 'vehicle', vin)
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-slow' })
    const car = await connect(broker.port, credentials(pki.dir, dir), { clientId: vin })
    try {
      await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 0 })
      const checking = new Promise<void>((resolve) => { started = resolve })
      car.publish(`vehicles/${vin}/telemetry/slow`, 'sent-before-revocation', { qos: 0 })
      await checking
      const gone = closed(car, 5000)
      const fingerprint = new X509Certificate(readFileSync(join(dir, 'cert.pem'))).fingerprint256.replace(/:/g, '').toLowerCase()
      await broker.fleetgate.revocations.revoke([{ fingerprint }], { reason: 'keyCompromise', revokedAt: new Date().toISOString() })
      await gone
      const got = collect(backend, 800)
      release!()
      expect((await got).map((m) => m.payload.toString())).to.deep.equal([])
    } finally {
      await end(backend, car)
    }
  })
})
