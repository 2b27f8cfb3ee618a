// A library user's own stores (stores as ports): objects of the user's own classes,
// passed through parts.stores (and the older parts.owners), are the ones a real
// broker reads: a certificate the user's revocation store names is refused at
// CONNECT, and one it revokes later is closed live through its watch events.
import { expect } from 'chai'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { randomVin } from '../../src/pki/index.js'
import { MemoryClientIdOwners, SESSION_STORES } from '../../src/sessions/index.js'
import type { RevocationEntry, RevocationEvent, RevocationQuery, RevocationStatus, RevocationStore, RevocationTarget, RevokedRecord } from '../../src/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { closed, connect, credentials, end, tryConnect } from '../harness/mqtt.js'
import { fingerprintOf } from './revocation-helpers.js'

/** revocations by fingerprint in a Map: what a user's own store (a database, a service) could be */
class ListRevocationStore implements RevocationStore {
  readonly kind = 'user-list'
  readonly asked: RevocationQuery[] = []
  readonly #revoked = new Map<string, RevokedRecord>()
  readonly #listeners: Array<(e: RevocationEvent) => void> = []
  #closed = false

  healthy (): boolean { return !this.#closed }
  async status (query: RevocationQuery): Promise<RevocationStatus> {
    this.asked.push(query)
    for (const t of query.targets) if ('fingerprint' in t && this.#revoked.has(t.fingerprint)) return { revoked: this.#revoked.get(t.fingerprint)! }
    return { revoked: null }
  }

  async revoke (targets: readonly RevocationTarget[], entry: RevocationEntry): Promise<number> {
    return await this.revokeMany(targets.map((t) => ({ ...t, ...entry })))
  }

  async revokeMany (records: readonly RevokedRecord[]): Promise<number> {
    for (const r of records) {
      if (!('fingerprint' in r)) continue
      this.#revoked.set(r.fingerprint, r)
      for (const l of this.#listeners) l({ kind: 'revoked', target: { fingerprint: r.fingerprint } })
    }
    return records.length
  }

  async list (): Promise<RevokedRecord[]> { return [...this.#revoked.values()] }
  async watch (onEvent: (e: RevocationEvent) => void): Promise<void> { this.#listeners.push(onEvent) }
  async close (): Promise<void> { this.#closed = true }
}

describe('stores a library user passes in', function () {
  this.timeout(30_000)
  let pki: TestPki
  let broker: TestBroker | undefined
  const clients: MqttClient[] = []
  const car = async (name: string) => { const vin = randomVin(); return { vin, dir: await pki.extra(name, 'vehicle', vin) } }

  before(async () => { pki = await testPki() })
  afterEach(async () => { await end(...clients.splice(0)); await broker?.close(); broker = undefined })

  it('a revocation store of the user\'s own class decides CONNECT (refused: CONNACK 5, revoked) and closes a live session on its event', async () => {
    const revocations = new ListRevocationStore()
    const refused = await car('us-refused')
    await revocations.revoke([{ fingerprint: fingerprintOf(join(refused.dir, 'cert.pem')) }], { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' })
    broker = await startTestBroker(pki.dir, {}, { parts: { stores: { revocations } } })
    expect(broker.fleetgate.revocations).to.equal(revocations)

    const o = await tryConnect(broker.port, credentials(pki.dir, refused.dir), { clientId: refused.vin })
    expect(o.ok).to.equal(false)
    if (!o.ok) expect(o.returnCode).to.equal(5)
    const line = await broker.audit.waitFor('connect.deny', { reason: 'revoked' })
    expect((line.cert as { fp: string }).fp).to.equal(fingerprintOf(join(refused.dir, 'cert.pem')))
    expect(revocations.asked.some((q) => q.targets.some((t) => 'fingerprint' in t && t.fingerprint === fingerprintOf(join(refused.dir, 'cert.pem'))))).to.equal(true)

    // control: a certificate it does not name is admitted, and its revocation later closes the session
    const live = await car('us-live')
    const c = await connect(broker.port, credentials(pki.dir, live.dir), { clientId: live.vin })
    clients.push(c)
    await revocations.revoke([{ fingerprint: fingerprintOf(join(live.dir, 'cert.pem')) }], { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' })
    await closed(c, 1000)
    await broker.audit.waitFor('revocation.kick', { reason: 'revoked' })
  })

  it('the older option name parts.owners still gives the clientId owner store, and close() closes the user\'s stores', async () => {
    const owners = new MemoryClientIdOwners()
    const revocations = new ListRevocationStore()
    broker = await startTestBroker(pki.dir, {}, { parts: { owners, stores: { revocations } } })
    expect(broker.fleetgate.owners).to.equal(owners)
    const v = await car('us-owner')
    const c = await connect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
    clients.push(c)
    expect((await owners.holder(v.vin))?.fp).to.equal(fingerprintOf(join(v.dir, 'cert.pem')))
    await end(...clients.splice(0))
    await broker.close()
    broker = undefined
    expect(revocations.healthy()).to.equal(false)
  })

  it('a session backend the user made (startBroker\'s sessions option) holds the persistent sessions\' queues', async () => {
    const overflowed: string[] = []
    const sessions = SESSION_STORES.embedded!({ deps: { maxOfflineMessages: 2, overflowed: (clientId) => overflowed.push(clientId) }, prefix: 'fleetgate:' })
    broker = await startTestBroker(pki.dir, {}, { sessions })
    expect(broker.sessionStore.backend).to.equal(sessions)
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-us', clean: false })
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
    await end(backend)
    const c = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: pki.vins[0] })
    clients.push(c)
    for (let i = 0; i < 3; i++) await c.publishAsync(`vehicles/${pki.vins[0]}/telemetry/speed`, String(i), { qos: 1 })
    expect(await sessions.queueLength('fleet-backend-us')).to.equal(2) // its own bound, not the broker's default
    expect(overflowed).to.include('fleet-backend-us')
  })
})
