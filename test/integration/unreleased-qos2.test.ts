// Unreleased QoS 2 PUBLISHes are bounded per clientId, not per connection
// (security review 6): a persistent session keeps them stored, so a client that
// withholds every PUBREL and reconnects used to add --max-inflight-qos2 more each time.
import { expect } from 'chai'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { credentials } from '../harness/mqtt.js'
import { rawConnect } from '../harness/raw-mqtt.js'

const MAX = 20

describe('unreleased QoS 2 PUBLISHes: bounded per clientId across reconnects and nodes', function () {
  this.timeout(30_000)
  let pki: TestPki
  let redis: TestRedis
  const brokers: TestBroker[] = []
  before(async () => { [pki, redis] = await Promise.all([testPki(), startRedis()]) })
  after(async () => { await Promise.all(brokers.map((b) => b.close())); await redis?.stop() })

  /** one connection of the car: CONNACK, then `n` QoS 2 PUBLISHes from `firstId` without PUBREL; how many got PUBREC */
  async function withhold (port: number, vinIndex: number, firstId: number, n: number): Promise<{ pubrecs: number; closed: boolean }> {
    const vin = pki.vins[vinIndex]!
    const c = await rawConnect(port, credentials(pki.dir, pki.vehicle(vinIndex)), { clientId: vin, clean: false })
    const connack = await c.next('connack')
    expect(connack?.returnCode, 'CONNACK').to.equal(0)
    for (let i = 0; i < n; i++) c.send({ cmd: 'publish', topic: `vehicles/${vin}/telemetry/speed`, payload: Buffer.from('1'), qos: 2, messageId: firstId + i, retain: false, dup: false })
    let pubrecs = 0
    while (pubrecs < n && (await c.next('pubrec', 3000)) !== null) pubrecs++
    const closed = c.socket.destroyed || c.socket.readyState === 'closed'
    c.end()
    await c.closed()
    return { pubrecs, closed }
  }

  async function check (nodes: TestBroker[], vinIndex: number): Promise<void> {
    const first = await withhold(nodes[0]!.port, vinIndex, 1, MAX)
    expect(first.pubrecs).to.equal(MAX)
    // reconnect (on the other node when there is one): the stored MAX count against the same clientId
    const node = nodes[nodes.length - 1]!
    const again = await withhold(node.port, vinIndex, MAX + 1, 1)
    expect(again.pubrecs, 'a new unreleased QoS 2 got PUBREC after the reconnect').to.equal(0)
    const line = await node.audit.waitFor('publish.deny', { reason: 'too_many_unreleased' })
    expect(line.held).to.equal(MAX)
  }

  it('embedded store', async () => {
    const b = await startTestBroker(pki.dir, { maxInflightQos2: MAX })
    brokers.push(b)
    await check([b], 0)
  })

  it('two nodes on one Redis', async () => {
    const a = await startTestBroker(pki.dir, { maxInflightQos2: MAX, redis: redis.url })
    const b = await startTestBroker(pki.dir, { maxInflightQos2: MAX, redis: redis.url })
    brokers.push(a, b)
    await check([a, b], 1)
  })
})
