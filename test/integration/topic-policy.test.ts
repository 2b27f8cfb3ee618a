// ARCHITECTURE.md steps 7-8: PUBLISH and SUBSCRIBE against the connection's compiled rules.
import { expect } from 'chai'
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultPolicyPath } from '../../src/policy/index.js'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, connect, closed, collect, end, subackCodes, connectCollecting, tryConnect } from '../harness/mqtt.js'

describe('topic policy (ARCHITECTURE.md steps 7-8)', function () {
  let pki: TestPki
  let broker: TestBroker
  let A: string, B: string
  const open: MqttClient[] = []

  const vehicle = async (i: number, opts = {}) => {
    const c = await connect(broker.port, credentials(pki.dir, pki.vehicle(i)), { clientId: pki.vins[i], ...opts })
    open.push(c); return c
  }
  const backend = async (suffix = 'b1', opts = {}) => {
    const c = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: `fleet-backend-${suffix}`, ...opts })
    open.push(c); return c
  }
  const monitor = async () => {
    const c = await connect(broker.port, credentials(pki.dir, pki.monitor), { clientId: 'fleet-monitor-1' })
    open.push(c); return c
  }

  before(async () => {
    pki = await testPki()
    A = pki.vins[0]!; B = pki.vins[1]!
    // topic rules only: the commands here are plain text, which the signed-command edge check (on by default) would refuse
    broker = await startTestBroker(pki.dir, { enforceSignedCommands: false })
  })
  after(async () => { await broker?.close() })
  beforeEach(() => broker.audit.clear())
  afterEach(async () => { await end(...open.splice(0)) })

  describe('PUBLISH', () => {
    it('delivers a vehicle\'s own telemetry to a backend', async () => {
      const be = await backend()
      await be.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
      const car = await vehicle(0)
      const got = collect(be, 2000, 1)
      await car.publishAsync(`vehicles/${A}/telemetry/speed`, '42', { qos: 1 })
      const msgs = await got
      expect(msgs.map((m) => m.topic)).to.deep.equal([`vehicles/${A}/telemetry/speed`])
    })

    for (const qos of [0, 1] as const) {
      it(`closes a vehicle that publishes into another car's telemetry (QoS ${qos}): topic_denied, nothing delivered`, async () => {
        const be = await backend()
        await be.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
        const car = await vehicle(0)
        const got = collect(be, 800)
        car.publish(`vehicles/${B}/telemetry/speed`, 'spoof', { qos })
        await closed(car)
        const line = await broker.audit.waitFor('publish.deny', { reason: 'topic_denied' })
        expect(line.topic).to.equal(`vehicles/${B}/telemetry/speed`)
        expect(line).to.not.have.property('payload')
        expect(await got).to.have.length(0)
      })
    }

    it('closes a vehicle that publishes a command to another car: topic_denied', async () => {
      const car = await vehicle(0)
      car.publish(`vehicles/${B}/commands`, 'x', { qos: 1 })
      await closed(car)
      await broker.audit.waitFor('publish.deny', { reason: 'topic_denied' })
    })

    it('refuses a publish into $SYS', async () => {
      const be = await backend()
      be.publish('$SYS/fake/clients', 'x', { qos: 0 })
      await closed(be)
      await broker.audit.waitFor('publish.deny', { reason: 'topic_denied' })
    })

    it('refuses a retained command (it would replay at every subscribe): retained_command', async () => {
      const be = await backend()
      be.publish(`vehicles/${A}/commands`, 'poison', { qos: 1, retain: true })
      await closed(be)
      await broker.audit.waitFor('publish.deny', { reason: 'retained_command' })
      // and nothing was retained: a fresh subscriber gets no retained command
      const car = await vehicle(0)
      const got = collect(car, 500)
      await car.subscribeAsync(`vehicles/${A}/commands`, { qos: 1 })
      expect(await got).to.have.length(0)
    })

    it('retains only on the role\'s retain topics (a car\'s status), bounded in size: retain_denied otherwise, nothing stored', async () => {
      // security review 6: a car retaining on every telemetry topic pinned 117 MiB in the broker (and Redis)
      const car = await vehicle(0)
      await car.publishAsync(`vehicles/${A}/status`, '{"v":1,"state":"online"}', { qos: 1, retain: true })
      car.publish(`vehicles/${A}/telemetry/speed`, 'pinned', { qos: 1, retain: true })
      await closed(car)
      let line = await broker.audit.waitFor('publish.deny', { reason: 'retain_denied' })
      expect(line.topic).to.equal(`vehicles/${A}/telemetry/speed`)
      const big = await vehicle(0)
      big.publish(`vehicles/${A}/status`, Buffer.alloc(8 * 1024 + 1, 0x61), { qos: 1, retain: true })
      await closed(big)
      line = (await broker.audit.waitFor('publish.deny', { reason: 'retain_denied' }), broker.audit.find('publish.deny', { reason: 'retain_denied' })[1]!)
      expect(String(line.detail)).to.match(/8193 bytes, limit 8192/)
      // a new subscriber gets the status retained, and nothing else
      const be = await backend()
      const got = collect(be, 600)
      await be.subscribeAsync([`vehicles/${A}/status`, `vehicles/${A}/telemetry/+`], { qos: 1 })
      expect((await got).map((m) => [m.topic, m.payload.length, m.retain])).to.deep.equal([[`vehicles/${A}/status`, 24, true]])
    })

    it('refuses a Will retained on a telemetry topic at CONNECT: will_denied', async () => {
      const o = await tryConnect(broker.port, credentials(pki.dir, pki.vehicle(1)), { clientId: B, will: { topic: `vehicles/${B}/telemetry/speed`, payload: Buffer.from('x'), qos: 1, retain: true } })
      expect(o.ok).to.equal(false)
      const line = await broker.audit.waitFor('connect.deny', { reason: 'will_denied' })
      expect(String(line.detail)).to.match(/retain_denied$/)
    })

    it('delivers a backend\'s (non-retained) command to that car only', async () => {
      const a = await vehicle(0); const b = await vehicle(1)
      await a.subscribeAsync(`vehicles/${A}/commands`, { qos: 1 })
      await b.subscribeAsync(`vehicles/${B}/commands`, { qos: 1 })
      const be = await backend()
      const gotA = collect(a, 1000, 1); const gotB = collect(b, 1000)
      await be.publishAsync(`vehicles/${A}/commands`, 'cmd', { qos: 1 })
      expect((await gotA).map((m) => m.topic)).to.deep.equal([`vehicles/${A}/commands`])
      expect(await gotB).to.have.length(0)
    })

    it('refuses a command from the fleet monitor: topic_denied', async () => {
      const m = await monitor()
      m.publish(`vehicles/${A}/commands`, 'x', { qos: 1 })
      await closed(m)
      await broker.audit.waitFor('publish.deny', { reason: 'topic_denied' })
    })

    it('publishes a car\'s Will (its own status) when it drops without DISCONNECT', async () => {
      const be = await backend()
      await be.subscribeAsync('vehicles/+/status', { qos: 1 })
      const car = await vehicle(0, { will: { topic: `vehicles/${A}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } })
      const got = collect(be, 2000, 1)
      ;(car as unknown as { stream: { destroy(): void } }).stream.destroy()
      const msgs = await got
      expect(msgs.map((m) => `${m.topic}=${m.payload.toString()}`)).to.deep.equal([`vehicles/${A}/status=offline`])
    })

    it('refuses a backend\'s Will on a car\'s command topic (it would skip the signed-command check): will_denied', async () => {
      const r = await tryConnect(broker.port, credentials(pki.dir, pki.backend), {
        clientId: 'fleet-backend-will', will: { topic: `vehicles/${A}/commands`, payload: Buffer.from('{"cmd":"unlock"}'), qos: 1, retain: false },
      })
      expect(r.ok).to.equal(false)
      if (!r.ok) expect(r.returnCode).to.equal(5)
      await broker.audit.waitFor('connect.deny', { reason: 'will_denied' })
    })

    it('accepts a Will that Aedes replays with no client (left by a dead cluster node)', async () => {
      const err = await new Promise<Error | null | undefined>((resolve) => {
        broker.broker.authorizePublish(null, { cmd: 'publish', topic: `vehicles/${A}/status`, payload: Buffer.from('offline'), qos: 1, retain: true, dup: false }, resolve)
      })
      expect(err ?? null).to.equal(null)
    })
  })

  describe('SUBSCRIBE', () => {
    it('grants a vehicle its own filters and answers 0x80 for each wider one in the same packet', async () => {
      const car = await vehicle(0)
      const filters = [`vehicles/${A}/commands`, 'vehicles/#', 'vehicles/+/commands', '#', '$SYS/#', `vehicles/${B}/commands`]
      const codes = await subackCodes(car, filters.map((topic) => ({ topic, qos: 1 as const })))
      expect(codes).to.deep.equal([1, 128, 128, 128, 128, 128])
      // one audit line for the packet: how many filters were denied, and a sample of them (security review 9)
      const lines = broker.audit.find('subscribe.deny', { reason: 'filter_denied' })
      expect(lines).to.have.length(1)
      expect(lines[0]!.filters).to.equal(5)
      expect(lines[0]!.sample).to.have.length(3)
      expect(filters.slice(1)).to.include.members(lines[0]!.sample as string[])
    })

    it('does not amplify denied filters into the audit log: one line per packet, closed past 100 denials', async () => {
      const car = await vehicle(0)
      broker.audit.clear()
      const closedNow = closed(car, 5000)
      // ten SUBSCRIBE packets of 40 denied filters each (~1,000 bytes of filters per packet)
      for (let p = 0; p < 10 && car.connected; p++) {
        car.subscribe(Array.from({ length: 40 }, (_, i) => `vehicles/${B}/telemetry/x${p}-${i}-${'y'.repeat(8)}`), { qos: 0 }, () => {})
        await new Promise((resolve) => setTimeout(resolve, 30))
      }
      await closedNow
      const kick = await broker.audit.waitFor('subscribe.kick', { reason: 'too_many_denials' })
      expect(kick.total).to.be.above(100)
      const denied = broker.audit.find('subscribe.deny')
      expect(denied.length).to.be.at.most(4) // 3 packets reach 120 denials, then the connection is gone
      expect(denied.reduce((n, l) => n + (l.filters as number), 0)).to.equal(kick.total)
      const bytes = broker.audit.raw.filter((l) => l.includes('"subscribe.')).reduce((n, l) => n + l.length, 0)
      expect(bytes).to.be.below(4000)
    })

    it('stored filters a narrower policy now denies, at a session\'s restore, are audited but never close it', async () => {
      // 120 granted per-car filters stored in a persistent session; the policy then narrows the backend to status
      const dir = mkdtempSync(join(tmpdir(), 'fg-restore-'))
      const policy = join(dir, 'policy.yaml')
      copyFileSync(defaultPolicyPath, policy)
      const own = await startTestBroker(pki.dir, { policy, enforceSignedCommands: false })
      try {
        const c = await connect(own.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-restore', clean: false })
        for (let p = 0; p < 2; p++) {
          const codes = await subackCodes(c, Array.from({ length: 60 }, (_, i) => ({ topic: `vehicles/${A}/telemetry/s${p}-${i}`, qos: 1 as const })))
          expect(codes.every((x) => x === 1)).to.equal(true)
        }
        await c.endAsync()
        writeFileSync(policy, readFileSync(policy, 'utf8').replace('subscribe: ["vehicles/+/telemetry/+", "vehicles/+/status", "vehicles/+/command-results", "vehicles/+/keys"]', 'subscribe: ["vehicles/+/status"]'))
        expect(own.reload().ok).to.equal(true)
        const back = await connect(own.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-restore', clean: false })
        open.push(back)
        await new Promise((resolve) => setTimeout(resolve, 500))
        expect(back.connected, 'closed at its restore').to.equal(true)
        expect(own.audit.find('subscribe.kick')).to.have.length(0)
        expect(own.audit.find('subscribe.deny').reduce((n, l) => n + (l.filters as number), 0)).to.equal(120)
      } finally { await own.close() }
    })

    it('lets a backend read telemetry of every car but not commands', async () => {
      const be = await backend()
      const codes = await subackCodes(be, [{ topic: 'vehicles/+/telemetry/+', qos: 1 }, { topic: 'vehicles/+/commands', qos: 1 }])
      expect(codes).to.deep.equal([1, 128])
    })

    it('never delivers another car\'s messages to a vehicle online, whatever it asked for', async () => {
      const a = await vehicle(0)
      expect(await subackCodes(a, [{ topic: `vehicles/${A}/commands`, qos: 1 }, { topic: 'vehicles/#', qos: 1 }])).to.deep.equal([1, 128])
      const b = await vehicle(1)
      const got = collect(a, 800)
      await b.publishAsync(`vehicles/${B}/telemetry/speed`, '1', { qos: 1 })
      expect(await got).to.have.length(0)
    })

    it('does not leak through a persistent session: a denied vehicles/# is not served from the offline queue (Aedes persists it)', async () => {
      // Car A, clean=false, asks for its commands and vehicles/#; the second is denied (SUBACK 0x80),
      // but Aedes stores the whole SUBSCRIBE. While A is away, car B publishes QoS 1 telemetry and a
      // backend sends A a command; on A's return it must get its command and nothing of B.
      const a1 = await vehicle(0, { clean: false })
      expect(await subackCodes(a1, [{ topic: `vehicles/${A}/commands`, qos: 1 }, { topic: 'vehicles/#', qos: 1 }])).to.deep.equal([1, 128])
      await a1.endAsync()
      const b = await vehicle(1)
      await b.publishAsync(`vehicles/${B}/telemetry/speed`, 'secret-of-B', { qos: 1 })
      const be = await backend()
      await be.publishAsync(`vehicles/${A}/commands`, 'for-A', { qos: 1 })
      const a2 = await connectCollecting(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: A, clean: false }, 1500)
      open.push(a2.client)
      // Overlapping filters may deliver A's own command twice (MQTT 3.1.1 allows it); B's telemetry never.
      const payloads = a2.messages.map((m) => m.payload.toString())
      expect(payloads).to.include('for-A')
      expect(payloads.filter((p) => p !== 'for-A')).to.deep.equal([])
    })

    it('stores only the granted filters of a persistent session: nothing of another car is even queued for it', async () => {
      // Unchecked, Aedes stores the refused vehicles/# too: every QoS 1 message of the fleet
      // piles up in the offline car's queue (in Redis, in a cluster).
      const a1 = await vehicle(2, { clean: false })
      const C = pki.vins[2]!
      expect(await subackCodes(a1, [{ topic: `vehicles/${C}/commands`, qos: 1 }, { topic: 'vehicles/#', qos: 1 }])).to.deep.equal([1, 128])
      await a1.endAsync()
      const persistence = (broker.broker as unknown as { persistence: unknown }).persistence as {
        subscriptionsByClient (c: { id: string }): Promise<Array<{ topic: string }>>
        outgoingStream (c: { id: string }): AsyncIterable<{ topic: string }>
      }
      expect((await persistence.subscriptionsByClient({ id: C })).map((x) => x.topic)).to.deep.equal([`vehicles/${C}/commands`])
      const b = await vehicle(1)
      for (let i = 0; i < 5; i++) await b.publishAsync(`vehicles/${B}/telemetry/speed`, String(i), { qos: 1 })
      const queued: string[] = []
      for await (const packet of persistence.outgoingStream({ id: C })) queued.push(packet.topic)
      expect(queued).to.deep.equal([])
    })
  })
})
