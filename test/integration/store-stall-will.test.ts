// A Will asked about during a store stall (a Redis failover holds PUBLISHes,
// src/checks/store-stall.ts) is published once the store answers: Aedes marks the
// client closed before it asks authorizePublish about its Will, and the held check
// must not take "closed" for "session ended" (security review, 2026-12-07).
import { expect } from 'chai'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, end } from '../harness/mqtt.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('a Will during a store stall', function () {
  this.timeout(30_000)
  let pki: TestPki
  const brokers: TestBroker[] = []
  before(async () => { pki = await testPki() })
  after(async () => { await Promise.all(brokers.map((b) => b.close())) })

  /** a car with a Will loses its link, optionally while the store is unreachable; what a subscriber got */
  async function willDelivered (stall: boolean): Promise<string[]> {
    const broker = await startTestBroker(pki.dir)
    brokers.push(broker)
    let up = true
    broker.fleetgate.watchStore(() => up)
    const vin = pki.vins[0]!
    const sub = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-stall', reconnectPeriod: 0 })
    const got: string[] = []
    sub.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`))
    await sub.subscribeAsync('vehicles/+/status', { qos: 1 })
    const car = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), {
      clientId: vin, reconnectPeriod: 0, will: { topic: `vehicles/${vin}/status`, payload: Buffer.from('offline'), qos: 1, retain: false },
    })
    await sleep(200)
    if (stall) up = false
    car.stream.destroy() // the car's link dies: Aedes asks about its Will
    await sleep(500)
    up = true
    for (let i = 0; i < 40 && got.length === 0; i++) await sleep(100)
    await end(sub)
    return got
  }

  it('control: without a stall the Will is published', async () => {
    expect(await willDelivered(false)).to.deep.equal([`vehicles/${pki.vins[0]}/status=offline`])
  })

  it('the Will held through the stall is published once the store answers', async () => {
    expect(await willDelivered(true)).to.deep.equal([`vehicles/${pki.vins[0]}/status=offline`])
  })
})
