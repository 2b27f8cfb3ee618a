// Behind a real HAProxy (TCP pass-through, send-proxy-v2) with --proxy-protocol:
// each car is seen with its own address (audit, per-IP limit), so a fleet behind
// one load balancer is not refused by --max-connections-per-ip (issue 18: 149 of
// 200 cars got in). The same fleet without the PROXY protocol is shown refused
// past 50, side by side.
import { expect } from 'chai'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startHaproxy, type TestHaproxy } from '../harness/haproxy.js'
import { credentials, tryConnect, end, type ConnectOutcome } from '../harness/mqtt.js'
import { randomVins } from '../../src/pki/vin.js'
import type { IClientOptions } from 'mqtt'

/** MQTT.js hands its options to tls.connect: the TCP source address of a car */
const from = (clientId: string, localAddress: string) => ({ clientId, localAddress }) as IClientOptions

const FLEET = 60

describe('behind HAProxy (send-proxy-v2, --proxy-protocol)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let vins: string[]
  const open: MqttClient[] = []
  before(async () => {
    pki = await testPki()
    vins = randomVins(FLEET)
    for (const vin of vins) await pki.extra(`lb-car-${vin}`, 'vehicle', vin)
  })
  afterEach(async () => { await end(...open.splice(0)) })

  /** car i from its own loopback source address 127.0.1.<i+10>, through `port` */
  async function fleet (port: number): Promise<ConnectOutcome[]> {
    const outcomes: ConnectOutcome[] = []
    for (let i = 0; i < FLEET; i += 10) {
      const batch = vins.slice(i, i + 10).map((vin, k) => tryConnect(port, credentials(pki.dir, join(pki.dir, 'tests', `lb-car-${vin}`)), from(vin, `127.0.1.${i + k + 10}`)))
      outcomes.push(...await Promise.all(batch))
    }
    for (const o of outcomes) if (o.ok) open.push(o.client)
    return outcomes
  }

  describe('with --proxy-protocol --proxy-from 127.0.0.1', () => {
    let broker: TestBroker
    let lb: TestHaproxy
    before(async () => {
      broker = await startTestBroker(pki.dir, { proxyProtocol: true, proxyFrom: '127.0.0.1' })
      lb = await startHaproxy([broker.port], 'send-proxy-v2')
    })
    after(async () => { await lb?.stop(); await broker?.close() })
    beforeEach(() => broker.audit.clear())

    it('sees cars from 127.0.0.2 and 127.0.0.3 with their own addresses', async () => {
      for (const [i, source] of [[0, '127.0.0.2'], [1, '127.0.0.3']] as const) {
        const o = await tryConnect(lb.port, credentials(pki.dir, pki.vehicle(i)), from(pki.vins[i]!, source))
        expect(o.ok, o.ok ? '' : o.error).to.equal(true)
        if (o.ok) open.push(o.client)
        const line = await broker.audit.waitFor('connect.allow', { conn: { clientId: pki.vins[i] } })
        expect(line.remote).to.equal(source)
      }
    })

    it(`admits ${FLEET} cars through one HAProxy: the per-IP limit (50) counts each car's own address`, async () => {
      const outcomes = await fleet(lb.port)
      expect(outcomes.filter((o) => !o.ok).map((o) => !o.ok && `${o.error} rc=${o.returnCode}`)).to.deep.equal([])
      expect(broker.audit.find('connect.deny')).to.have.length(0)
      const remotes = new Set(broker.audit.find('connect.allow').map((l) => l.remote))
      expect(remotes.size).to.equal(FLEET)
      expect(remotes.has('127.0.0.1')).to.equal(false)
    })
  })

  describe('without the PROXY protocol (what issue 18 measured)', () => {
    let broker: TestBroker
    let lb: TestHaproxy
    before(async () => {
      broker = await startTestBroker(pki.dir)
      lb = await startHaproxy([broker.port], '')
    })
    after(async () => { await lb?.stop(); await broker?.close() })

    it(`refuses every car past 50 of ${FLEET}: they all come from HAProxy's address`, async () => {
      const outcomes = await fleet(lb.port)
      expect(outcomes.filter((o) => o.ok)).to.have.length(50)
      expect(outcomes.filter((o) => !o.ok && o.returnCode === 5)).to.have.length(FLEET - 50)
      const deny = broker.audit.find('connect.deny', { reason: 'too_many_connections' })
      expect(deny.length).to.equal(FLEET - 50)
      expect((deny[0]!.client as { remote: string }).remote).to.equal('127.0.0.1')
    })
  })
})
