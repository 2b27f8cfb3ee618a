// clientId ownership across the cluster (sessions issue, item 1): the identity
// that created a session owns its clientId, live or offline, on every node. CN
// "ops" may use "ops-<suffix>" by its clientId template, so it covers "ops-eu",
// the clientId of CN "ops-eu": it must be refused wherever it lands, and the
// owner's session, subscriptions and queue stay untouched.
import { expect } from 'chai'
import type { MqttClient } from 'mqtt'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, connectSession, credentials, collect, closed, end, tryConnect } from '../harness/mqtt.js'
import { Redis } from 'ioredis'

const TOPIC = (vin: string) => `vehicles/${vin}/telemetry/speed`

describe('clientId ownership: another identity never gets a session it does not own', function () {
  this.timeout(60_000)
  let pki: TestPki
  let owner: string
  let thief: string
  const clients: MqttClient[] = []
  before(async () => {
    pki = await testPki()
    owner = await pki.extra('owner-ops-eu', 'fleet-backend', 'ops-eu')
    thief = await pki.extra('thief-ops', 'fleet-backend', 'ops')
  })
  afterEach(async () => { await end(...clients.splice(0)) })

  async function refused (port: number, clientId: string, clean: boolean): Promise<void> {
    const o = await tryConnect(port, credentials(pki.dir, thief), { clientId, clean })
    if (o.ok) { clients.push(o.client); expect.fail(`CN ops was admitted as ${clientId} (sessionPresent=${o.sessionPresent})`) }
    expect(o.returnCode).to.equal(5)
  }

  /** the owner makes a persistent session subscribed to a car's telemetry, then goes offline */
  async function offlineOwnerSession (port: number, clientId: string, vin: string): Promise<void> {
    const c = await connect(port, credentials(pki.dir, owner), { clientId, clean: false })
    await c.subscribeAsync(TOPIC(vin), { qos: 1 })
    await c.endAsync()
  }

  async function publishQos1 (port: number, vinIndex: number, payload: string): Promise<void> {
    const car = await connect(port, credentials(pki.dir, pki.vehicle(vinIndex)), { clientId: pki.vins[vinIndex]! })
    await car.publishAsync(TOPIC(pki.vins[vinIndex]!), payload, { qos: 1 })
    await car.endAsync()
  }

  describe('one node, embedded store', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir) })
    after(async () => { await broker?.close() })

    it('offline: the thief is refused (client_id_mismatch), the owner resumes its session and gets its queue', async () => {
      await offlineOwnerSession(broker.port, 'ops-eu', pki.vins[0]!)
      await refused(broker.port, 'ops-eu', false)
      await refused(broker.port, 'ops-eu', true) // a clean session would wipe the owner's
      const line = await broker.audit.waitFor('connect.deny', { reason: 'client_id_mismatch' })
      expect(String(line.detail)).to.match(/owned by another identity/)
      await publishQos1(broker.port, 0, 'queued')
      const { client: back, sessionPresent } = await connectSession(broker.port, credentials(pki.dir, owner), { clientId: 'ops-eu', clean: false })
      clients.push(back)
      expect(sessionPresent, 'the owner\'s session was not resumed').to.equal(true)
      const got = await collect(back, 3000, 1)
      expect(got.map((m) => m.payload.toString())).to.deep.equal(['queued'])
    })

    it('the identity a clientId names takes it back from one that only covered it, and gets nothing of its session', async () => {
      // CN "ops" claims "ops-eu-z" while CN "ops-eu-z" never connected: first come would lock the owner out for good
      const owner2 = await pki.extra('owner-ops-eu-z', 'fleet-backend', 'ops-eu-z')
      const squatter = await connect(broker.port, credentials(pki.dir, thief), { clientId: 'ops-eu-z', clean: false })
      await squatter.subscribeAsync(TOPIC(pki.vins[1]!), { qos: 1 })
      await squatter.endAsync()
      await publishQos1(broker.port, 1, 'for-the-squatter')
      const { client, sessionPresent } = await connectSession(broker.port, credentials(pki.dir, owner2), { clientId: 'ops-eu-z', clean: false })
      clients.push(client)
      expect(sessionPresent, 'the squatter\'s stored session was handed over').to.equal(false)
      expect(await collect(client, 800)).to.have.length(0)
      const line = await broker.audit.waitFor('owner.reclaim')
      expect((line.from as { role: string }).role).to.equal('fleet-backend')
      // its own now: the covering identity is refused again (the session was made clean: it frees the clientId when it ends)
      await refused(broker.port, 'ops-eu-z', false)
    })

    it('a clean session frees its clientId when it ends: then another identity may use it', async () => {
      const c = await connect(broker.port, credentials(pki.dir, owner), { clientId: 'ops-eu-2', clean: true })
      clients.push(c)
      await refused(broker.port, 'ops-eu-2', true)
      await c.endAsync()
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(await broker.fleetgate.owners.holder('ops-eu-2')).to.equal(null)
    })
  })

  describe('three nodes on one Redis', () => {
    let redis: TestRedis
    let a: TestBroker
    let b: TestBroker
    let c: TestBroker
    before(async () => {
      redis = await startRedis()
      ;[a, b, c] = await Promise.all([1, 2, 3].map(() => startTestBroker(pki.dir, { redis: redis.url })))
    })
    after(async () => { await Promise.all([a, b, c].map((n) => n?.close())); await redis?.stop() })

    it('live: refused on every node; the owner\'s session is not closed and no node audits a takeover', async () => {
      const victim = await connect(a.port, credentials(pki.dir, owner), { clientId: 'ops-eu', clean: true })
      clients.push(victim)
      let victimClosed = false
      victim.on('close', () => { victimClosed = true })
      for (const node of [a, b, c]) await refused(node.port, 'ops-eu', true)
      await b.audit.waitFor('connect.deny', { reason: 'client_id_mismatch' })
      await c.audit.waitFor('connect.deny', { reason: 'client_id_mismatch' })
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(victimClosed, 'the owner\'s live session was closed').to.equal(false)
      for (const node of [a, b, c]) expect(node.audit.find('session.takeover')).to.have.length(0)
      // and it still works
      const got = collect(victim, 3000, 1)
      await victim.subscribeAsync(TOPIC(pki.vins[1]!), { qos: 0 })
      await publishQos1(c.port, 1, 'still-mine')
      expect((await got).map((m) => m.payload.toString())).to.deep.equal(['still-mine'])
    })

    it('offline: refused on the owner\'s node and on the others; the owner resumes on a third node with its queue', async () => {
      await offlineOwnerSession(a.port, 'ops-eu-x', pki.vins[2]!)
      for (const node of [a, b, c]) await refused(node.port, 'ops-eu-x', false)
      await publishQos1(b.port, 2, 'queued-for-owner')
      const { client: back, sessionPresent } = await connectSession(c.port, credentials(pki.dir, owner), { clientId: 'ops-eu-x', clean: false })
      clients.push(back)
      expect(sessionPresent, 'the owner\'s session was not resumed').to.equal(true)
      const got = await collect(back, 3000, 1)
      expect(got.map((m) => m.payload.toString())).to.deep.equal(['queued-for-owner'])
    })

    it('the same identity takes over on another node; the node that ends the old session audits it', async () => {
      const first = await connect(a.port, credentials(pki.dir, owner), { clientId: 'ops-eu-t', clean: true })
      clients.push(first)
      const gone = closed(first, 5000)
      const second = await connect(b.port, credentials(pki.dir, owner), { clientId: 'ops-eu-t', clean: true })
      clients.push(second)
      await gone
      const line = await a.audit.waitFor('session.takeover', { reason: 'client_id_taken_over' })
      expect(line.node).to.equal(b.broker.id)
      // the record is the new connection's: the old one's close did not free the clientId
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect((await b.fleetgate.owners.holder('ops-eu-t'))?.node).to.equal(b.broker.id)
      await refused(c.port, 'ops-eu-t', true)
    })

    it('a record not of this version (written by hand, unreadable time) refuses, and the node stays up', async () => {
      const r = new Redis(redis.url)
      try { await r.set('fleetgate:owner:ops-eu-odd', JSON.stringify({ name: 'someone', at: 'not a time' })) } finally { r.disconnect() }
      await refused(a.port, 'ops-eu-odd', true)
      const line = await a.audit.waitFor('connect.deny', { reason: 'client_id_mismatch' })
      expect(String(line.detail)).to.match(/owned by another identity/)
      // still serving
      const c = await connect(a.port, credentials(pki.dir, owner), { clientId: 'ops-eu-after', clean: true })
      clients.push(c)
    })

    it('the record survives a restart of every node', async () => {
      await offlineOwnerSession(a.port, 'ops-eu-r', pki.vins[3]!)
      await Promise.all([a, b, c].map((n) => n.close()))
      ;[a, b, c] = await Promise.all([1, 2, 3].map(() => startTestBroker(pki.dir, { redis: redis.url })))
      await refused(b.port, 'ops-eu-r', false)
      const { client: back, sessionPresent } = await connectSession(c.port, credentials(pki.dir, owner), { clientId: 'ops-eu-r', clean: false })
      clients.push(back)
      expect(sessionPresent, 'the owner\'s session was not resumed').to.equal(true)
    })
  })

  describe('an expired session frees its clientId (--session-expiry)', () => {
    for (const store of ['embedded', 'redis'] as const) {
      it(store, async () => {
        const redis = store === 'redis' ? await startRedis() : undefined
        const broker = await startTestBroker(pki.dir, { sessionExpiry: '1s', ...(redis ? { redis: redis.url } : {}) })
        try {
          await offlineOwnerSession(broker.port, 'ops-eu-exp', pki.vins[0]!)
          await refused(broker.port, 'ops-eu-exp', false)
          await broker.audit.waitFor('session.expire', { clientId: 'ops-eu-exp' }, 10_000)
          // the listener runs right after the audit line: give it its round trip
          for (let i = 0; i < 20 && await broker.fleetgate.owners.holder('ops-eu-exp') !== null; i++) await new Promise((resolve) => setTimeout(resolve, 50))
          expect(await broker.fleetgate.owners.holder('ops-eu-exp')).to.equal(null)
          // nothing of the owner's is left to take: a new session, not the owner's
          const { client, sessionPresent } = await connectSession(broker.port, credentials(pki.dir, thief), { clientId: 'ops-eu-exp', clean: false })
          clients.push(client)
          expect(sessionPresent).to.equal(false)
        } finally { await broker.close(); await redis?.stop() }
      })
    }
  })
})
