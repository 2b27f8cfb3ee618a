// Redis pub/sub keeps nothing for a subscriber that is away. When a node's
// emitter subscriber link drops and comes back (what every node sees in a
// Sentinel failover), mqemitter-redis re-subscribes and says nothing of the
// messages other nodes PUBLISHed meanwhile: a live persistent subscriber on
// that node never got them, although they were in its queue (it would get
// them only at its next reconnect). fleetgate re-reads the live sessions'
// queues once the link is subscribed again (src/cluster/resync.ts,
// BacklogDelivery.resync). Here the gap is made by killing the subscriber
// links (CLIENT KILL) while a car on the other node publishes QoS 1.
import { expect } from 'chai'
import type { MqttClient } from 'mqtt'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, end } from '../harness/mqtt.js'

describe('cluster: a pub/sub gap (subscriber link reconnects) loses no message to a live persistent session', function () {
  this.timeout(40_000)
  let redis: TestRedis
  let pki: TestPki
  let a: TestBroker
  let b: TestBroker
  let spy: Redis
  const clients: MqttClient[] = []

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    a = await startTestBroker(pki.dir, { redis: redis.url })
    b = await startTestBroker(pki.dir, { redis: redis.url })
    spy = new Redis(redis.url)
  })
  after(async () => { await end(...clients); spy?.disconnect(); await a?.close(); await b?.close(); await redis?.stop() })

  /** CLIENT KILL every emitter subscriber link (both nodes'), each time it comes back, for `ms` */
  async function killSubscriberLinks (ms: number): Promise<number> {
    let kills = 0
    const end = Date.now() + ms
    while (Date.now() < end) {
      const list = await spy.client('LIST') as string
      for (const line of list.split('\n')) {
        if (!line.includes('name=fleetgate-mqtt-sub')) continue
        const id = /\bid=(\d+)/.exec(line)?.[1]
        if (id) { await spy.client('KILL', 'ID', id).catch(() => 0); kills++ }
      }
      await new Promise((r) => setTimeout(r, 15))
    }
    return kills
  }

  it('messages PUBACKed while the subscriber links were away all arrive, without the subscriber reconnecting', async () => {
    const backend = await connect(a.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-gap', clean: false })
    clients.push(backend)
    let closes = 0
    backend.on('close', () => closes++)
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
    const vin = pki.vins[0]!
    const car = await connect(b.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
    clients.push(car)
    const got = new Set<string>()
    backend.on('message', (_t, payload) => got.add(payload.toString()))

    const acked: string[] = []
    const gap = killSubscriberLinks(600)
    for (let i = 0; i < 20; i++) {
      await car.publishAsync(`vehicles/${vin}/telemetry/seq`, `m${i}`, { qos: 1 })
      acked.push(`m${i}`)
      await new Promise((r) => setTimeout(r, 30))
    }
    expect(await gap).to.be.greaterThan(0)
    const deadline = Date.now() + 5000
    while (acked.some((m) => !got.has(m)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    expect(acked.filter((m) => !got.has(m)), 'PUBACKed but never delivered').to.deep.equal([])
    expect(closes, 'the subscriber never reconnected').to.equal(0)
    await a.audit.waitFor('session.resync')
  })
})
