// A node is killed (SIGKILL, child process) while a persistent session drains
// its backlog from it; the session comes back on the other node of the cluster.
//
// What is asserted, over both connections' messages in arrival order:
// - nothing is lost: every message PUBACKed to the publisher arrives (the
//   publisher is on the surviving node: Aedes 1.2 sends a QoS 1 PUBACK before it
//   queues the message, so a node killed in between loses what it just PUBACKed);
// - order per publisher: the first deliveries of the messages come in the order
//   they were published;
// - duplicates only as QoS 1 allows after the kill: a message arrives at most once
//   per connection, and a second time only on the second connection for one the
//   first connection received (in flight, unacknowledged, when the node died);
// - nothing is stranded: the queue is empty afterwards, and no packet is left in
//   Redis without a queue holding it.
import { expect } from 'chai'
import type { MqttClient } from 'mqtt'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startBrokerProc, type BrokerProc } from '../harness/broker-proc.js'
import { connect, credentials, end } from '../harness/mqtt.js'
import { publishSeq, receiveSeq, until } from './session-support.js'

const BACKLOG = 10_000
const LIVE_DURING_DRAIN = 200
const AFTER_KILL = 500
const KILL_AT = 3000

describe('cluster: the node draining a backlog is killed', function () {
  this.timeout(240_000)
  let redis: TestRedis
  let pki: TestPki
  let a: BrokerProc
  let b: TestBroker
  const clients: MqttClient[] = []

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    // the test's publisher sends thousands at once: no publish rate limit
    a = await startBrokerProc(pki.dir, { redis: redis.url, maxOfflineMessages: 50_000, maxPublishRate: 0 })
    b = await startTestBroker(pki.dir, { redis: redis.url, maxOfflineMessages: 50_000, maxPublishRate: 0 })
  })
  after(async () => { await end(...clients); await a?.kill(); await b?.close(); await redis?.stop() })

  it('every PUBACKed message arrives, first deliveries in publish order, nothing stranded', async () => {
    const creds = credentials(pki.dir, pki.backend)
    const clientId = 'fleet-backend-kill'
    const sub = await connect(b.port, creds, { clientId, clean: false })
    await sub.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
    await end(sub)

    const vin = pki.vins[0]!
    const topic = `vehicles/${vin}/telemetry/speed`
    const car = await connect(b.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
    clients.push(car)
    await publishSeq(car, topic, 0, BACKLOG)
    await until(async () => await b.sessionStore.backend.queueLength(clientId) === BACKLOG, 10_000, 'backlog queued')

    let live: Promise<void> | undefined
    let killed: Promise<void> | undefined
    const first = await receiveSeq(a.port, creds, { clientId, clean: false }, Infinity, 120_000, (_s, n) => {
      if (n === 1) live = publishSeq(car, topic, BACKLOG, LIVE_DURING_DRAIN, 1)
      if (n === KILL_AT) killed = a.kill()
    })
    clients.push(first.client)
    await killed
    await live
    expect(first.sessionPresent).to.equal(true)
    expect(first.seqs.length).to.be.at.least(KILL_AT).and.below(BACKLOG)

    const total = BACKLOG + LIVE_DURING_DRAIN + AFTER_KILL
    await publishSeq(car, topic, BACKLOG + LIVE_DURING_DRAIN, AFTER_KILL, 1)
    const seen = new Set(first.seqs)
    const second = await receiveSeq(b.port, creds, { clientId, clean: false }, Infinity, 120_000, (s) => { seen.add(s); return seen.size === total })
    clients.push(second.client)
    expect(second.sessionPresent).to.equal(true)

    const all = [...first.seqs, ...second.seqs]
    expect(new Set(all).size, 'distinct messages received').to.equal(total)
    expect(all.every((s) => Number.isInteger(s) && s >= 0 && s < total)).to.equal(true)
    const firstDeliveries = all.filter((s, i) => all.indexOf(s) === i)
    const outOfOrder = firstDeliveries.findIndex((s, i) => s !== i)
    expect(outOfOrder, `first deliveries out of order at ${outOfOrder}`).to.equal(-1)
    expect(new Set(first.seqs).size, 'no duplicate within the first connection').to.equal(first.seqs.length)
    expect(new Set(second.seqs).size, 'no duplicate within the second connection').to.equal(second.seqs.length)
    const again = second.seqs.filter((s) => seen.has(s) && first.seqs.includes(s))
    expect(again.length, 'redelivered after the kill').to.be.below(1000)

    await until(async () => await b.sessionStore.backend.queueLength(clientId) === 0, 10_000, 'queue emptied')
    const r = new Redis(redis.url)
    try {
      await until(async () => (await r.keys('packet:*')).length === 0, 5000, 'no packet left without a queue')
    } finally { r.disconnect() }
  })
})
