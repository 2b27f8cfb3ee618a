// --max-offline-messages and --session-expiry, embedded and Redis, over real
// sockets (src/sessions). At the bound the oldest queued messages are dropped,
// audited once per session and overflow episode, counted per message; a
// persistent session not resumed within the expiry is removed with its queue
// and subscriptions, by one node of a cluster, including queues left behind by
// sessions the broker never saw (earlier releases, autoscaled instances).
import { expect } from 'chai'
import type { MqttClient } from 'mqtt'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, collect, credentials, end } from '../harness/mqtt.js'
import { publishSeq, receiveSeq, until } from './session-support.js'

async function counted (broker: TestBroker, evt: string, reason: string): Promise<number> {
  const text = await broker.fleetgate.metrics.registry.metrics()
  const m = new RegExp(`fleetgate_decisions_total\\{evt="${evt.replace('.', '\\.')}",reason="${reason}"\\} (\\d+)`).exec(text)
  return m ? Number(m[1]) : 0
}

for (const store of ['embedded', 'redis'] as const) {
  describe(`persistent session bounds and expiry (${store} store)`, function () {
    this.timeout(60_000)
    let redis: TestRedis | undefined
    let pki: TestPki
    const brokers: TestBroker[] = []
    const clients: MqttClient[] = []
    const redisOpt = () => (redis ? { redis: redis.url } : {})

    before(async () => {
      pki = await testPki()
      if (store === 'redis') redis = await startRedis()
    })
    // each test its own brokers and an empty Redis: a node sweeps every session of its Redis
    beforeEach(async () => {
      if (!redis) return
      const r = new Redis(redis.url)
      try { await r.flushall() } finally { r.disconnect() }
    })
    afterEach(async () => { await end(...clients.splice(0)); for (const b of brokers.splice(0)) await b.close() })
    after(async () => { await redis?.stop() })

    async function car (broker: TestBroker, i = 0): Promise<{ client: MqttClient; topic: string }> {
      const vin = pki.vins[i]!
      const client = await connect(broker.port, credentials(pki.dir, pki.vehicle(i)), { clientId: vin })
      clients.push(client)
      return { client, topic: `vehicles/${vin}/telemetry/speed` }
    }
    async function offlineSubscriber (broker: TestBroker, clientId: string): Promise<void> {
      const c = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId, clean: false })
      await c.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
      await end(c)
    }

    if (store === 'redis') {
      it('a clean session taking over a persistent one leaves no packet of its queue behind in Redis', async () => {
        const broker = await startTestBroker(pki.dir, { redis: redis!.url })
        brokers.push(broker)
        await offlineSubscriber(broker, 'fleet-backend-clean-over')
        const { client, topic } = await car(broker)
        await publishSeq(client, topic, 0, 20)
        const r = new Redis(redis!.url)
        try {
          expect((await r.keys('packet:*')).length, 'queued packets').to.be.greaterThan(0)
          // the same identity comes back with clean session 1: Aedes wipes the stored session
          const clean = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-clean-over', clean: true })
          clients.push(clean)
          await until(async () => (await r.keys('packet:*')).length === 0, 5000, 'no packet left without a queue')
          expect(await r.keys('outgoing:*')).to.deep.equal([])
        } finally { r.disconnect() }
      })
    }

    it('a clean session taking over a persistent one gets none of its queue (MQTT-3.1.2-6), and the queue is gone', async () => {
      const broker = await startTestBroker(pki.dir, redisOpt())
      brokers.push(broker)
      const clientId = `fleet-backend-clean-takeover-${store}`
      await offlineSubscriber(broker, clientId)
      const { client, topic } = await car(broker)
      await publishSeq(client, topic, 0, 20, 1)
      await until(async () => await broker.sessionStore.backend.queueLength(clientId) === 20, 5000, 'queued while offline')
      // listening from before CONNACK: a queue sent at once after it is seen
      const clean = await receiveSeq(broker.port, credentials(pki.dir, pki.backend), { clientId, clean: true }, 1, 1500)
      clients.push(clean.client)
      expect(clean.sessionPresent, 'sessionPresent').to.equal(false)
      expect(clean.seqs, 'messages of the discarded session').to.deep.equal([])
      expect(await broker.sessionStore.backend.queueLength(clientId), 'queue left').to.equal(0)
    })

    if (store === 'redis') {
      it('a clean session discards a queue left without subscriptions (another release, a removal racing a publish); a persistent session after it gets none', async () => {
        const r = new Redis(redis!.url)
        try {
          const clientId = 'fleet-backend-leftover-queue'
          await r.mset('packet:old-node:7', 'x', 'packet:old-node:7:offlineCount', '1')
          await r.rpush(`outgoing:${clientId}`, 'packet:old-node:7')
          const broker = await startTestBroker(pki.dir, { redis: redis!.url })
          brokers.push(broker)
          const clean = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId, clean: true })
          await end(clean)
          await until(async () => (await r.exists(`outgoing:${clientId}`)) === 0, 5000, 'the left queue discarded')
          expect(await r.keys('packet:old-node:7*')).to.deep.equal([])
          const back = await receiveSeq(broker.port, credentials(pki.dir, pki.backend), { clientId, clean: false }, 1, 1000)
          clients.push(back.client)
          expect(back.sessionPresent).to.equal(false)
          expect(back.seqs).to.deep.equal([])
        } finally { r.disconnect() }
      })
    }

    it('--max-offline-messages 100: the oldest are dropped, audited once per overflow episode, counted per message', async () => {
      const broker = await startTestBroker(pki.dir, { ...redisOpt(), maxOfflineMessages: 100, sessionExpiry: '1h' })
      brokers.push(broker)
      const clientId = `fleet-backend-bound-${store}`
      await offlineSubscriber(broker, clientId)
      const { client, topic } = await car(broker)
      await publishSeq(client, topic, 0, 250, 1)
      await until(async () => await counted(broker, 'session.drop', 'offline_queue_full') === 150, 5000, '150 drops counted')
      expect(await broker.sessionStore.backend.queueLength(clientId)).to.equal(100)
      expect(broker.audit.find('session.drop', { reason: 'offline_queue_full', clientId })).to.have.length(1)

      const back = await receiveSeq(broker.port, credentials(pki.dir, pki.backend), { clientId, clean: false }, 100, 10_000)
      clients.push(back.client)
      expect(back.seqs).to.deep.equal(Array.from({ length: 100 }, (_v, i) => 150 + i))
      await end(back.client)

      // a new episode after the session was resumed: audited again
      await publishSeq(client, topic, 250, 101, 1)
      await until(async () => await counted(broker, 'session.drop', 'offline_queue_full') === 151, 5000, '151 drops counted')
      expect(broker.audit.find('session.drop', { reason: 'offline_queue_full', clientId })).to.have.length(2)
    })

    it('--session-expiry 1s: an offline session is removed with its queue and subscriptions; a live one stays', async () => {
      const broker = await startTestBroker(pki.dir, { ...redisOpt(), maxOfflineMessages: 100, sessionExpiry: '1s' })
      brokers.push(broker)
      const gone = `fleet-backend-expire-${store}`
      const stays = `fleet-backend-live-${store}`
      await offlineSubscriber(broker, gone)
      const live = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: stays, clean: false })
      clients.push(live)
      await live.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
      const { client, topic } = await car(broker, 1)
      await publishSeq(client, topic, 0, 20, 1)
      await until(async () => await broker.sessionStore.backend.queueLength(gone) === 20, 5000, 'queued')

      await broker.audit.waitFor('session.expire', { reason: 'session_expired', clientId: gone }, 10_000)
      expect(await broker.sessionStore.backend.queueLength(gone)).to.equal(0)
      expect(await counted(broker, 'session.expire', 'session_expired')).to.equal(1)

      // the live session outlived the expiry and still gets its messages
      await new Promise((r) => setTimeout(r, 1500))
      expect(broker.audit.find('session.expire', { clientId: stays })).to.have.length(0)
      const got = collect(live, 5000, 1)
      await client.publishAsync(topic, 'after', { qos: 1 })
      expect((await got).map((m) => m.payload.toString())).to.include('after')

      // the expired one comes back to nothing: no session, no subscription, no queue
      const back = await receiveSeq(broker.port, credentials(pki.dir, pki.backend), { clientId: gone, clean: false }, 1, 1000)
      clients.push(back.client)
      expect(back.sessionPresent).to.equal(false)
      expect(back.seqs).to.deep.equal([])
    })

    if (store === 'redis') {
      it('in a cluster one node removes an expired session, and queues no node ever saw expire too; nothing is left in Redis', async () => {
        const r = new Redis(redis!.url)
        try {
          // an abandoned queue of an earlier backend instance, from before this broker started
          await r.mset('packet:old-node:1', 'x', 'packet:old-node:1:offlineCount', '1')
          await r.rpush('outgoing:fleet-backend-gone-instance', 'packet:old-node:1')
          const a = await startTestBroker(pki.dir, { redis: redis!.url, sessionExpiry: '1s' })
          const b = await startTestBroker(pki.dir, { redis: redis!.url, sessionExpiry: '1s' })
          brokers.push(a, b)
          const clientId = 'fleet-backend-cluster-expire'
          await offlineSubscriber(a, clientId)
          const { client, topic } = await car(b, 2)
          await publishSeq(client, topic, 0, 10, 1)
          await until(async () => await r.llen(`outgoing:${clientId}`) === 10, 5000, 'queued')
          await a.close() // the node that saw the session go is gone; its clock is in Redis

          const expired = (id: string) => [...a.audit.find('session.expire', { clientId: id }), ...b.audit.find('session.expire', { clientId: id })]
          await until(() => expired(clientId).length > 0 && expired('fleet-backend-gone-instance').length > 0, 15_000, 'both expired')
          await new Promise((r) => setTimeout(r, 600))
          expect(expired(clientId)).to.have.length(1)
          expect(expired('fleet-backend-gone-instance')).to.have.length(1)
          expect(await r.keys('outgoing:*')).to.deep.equal([])
          expect(await r.keys('packet:*')).to.deep.equal([])
          expect(await r.keys('client:*')).to.deep.equal([])
          expect(await r.sismember('clients', clientId)).to.equal(0)
          expect(await r.zscore('fleetgate:sessions:seen', clientId)).to.equal(null)
        } finally { r.disconnect() }
      })
    }
  })
}
