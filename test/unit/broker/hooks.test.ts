// fleetgate's Aedes hooks as pure functions (createHooks): driven with plain
// objects standing in for Aedes clients, identities parsed from real
// certificates of the in-memory test PKI, the shipped policy, the in-memory
// clientId owner store. No socket, no Aedes: each hook's answer is what Aedes
// would turn into CONNACK 5, a closed connection, SUBACK 0x80 or a dropped delivery.
import { expect } from 'chai'
import { EventEmitter } from 'node:events'
import type { AedesPublishPacket, AuthenticateError, Client, ConnectPacket, PublishPacket } from 'aedes'
import { createHooks, MAX_SUBSCRIBE_DENIALS, RefusalError, type FleetgateHooks, type HookDeps } from '../../../src/broker/hooks.js'
import { SessionRegistry, type ConnectionInfo } from '../../../src/broker/session.js'
import { endSession } from '../../../src/broker/end-session.js'
import { loadPolicyFile, defaultPolicyPath } from '../../../src/policy/index.js'
import { MemoryClientIdOwners } from '../../../src/sessions/index.js'
import type { ConnectCheck, PublishCheck, SubscribeCheck } from '../../../src/contract/index.js'
import type { Identity } from '../../../src/identity/index.js'
import { issueLeaf } from '../../../src/pki/index.js'
import { AuditSink } from '../../harness/audit-sink.js'
import { fixtures, VIN, OTHER_VIN, type Fixtures } from '../commands/fixtures.js'
import { identityOf } from '../checks/identities.js'

/** What createHooks reads of an Aedes client: id, clean, closed, conn ('close'), close(), and the adapter's connackSent and broker.id. */
class FakeClient {
  closed = false
  clean = true
  connackSent = false
  readonly conn = new EventEmitter()
  readonly broker = { id: 'node-a' }
  constructor (readonly id: string) {}
  close (): void { this.closed = true; this.conn.emit('close') }
}
const asClient = (c: FakeClient) => c as unknown as Client

type Answer = { error: AuthenticateError | null; ok: boolean | null }

describe('broker/createHooks (pure hooks, plain client objects)', function () {
  this.timeout(20_000)
  let f: Fixtures
  let ops: Identity
  let opsEu: Identity
  before(async () => {
    f = await fixtures()
    ops = identityOf(await issueLeaf(f.issuing, 'fleet-backend', 'ops'), f.issuing, f.root)
    opsEu = identityOf(await issueLeaf(f.issuing, 'fleet-backend', 'ops-eu'), f.issuing, f.root)
  })

  let sink: AuditSink
  let sessions: SessionRegistry
  let owners: MemoryClientIdOwners
  let counted: string[]
  let infos: Map<FakeClient, ConnectionInfo>
  let hooks: FleetgateHooks
  const policy = loadPolicyFile(defaultPolicyPath)

  function make (over: Partial<HookDeps> = {}): FleetgateHooks {
    return createHooks({
      policy: () => policy,
      connection: (client) => infos.get(client as unknown as FakeClient),
      sessions,
      log: sink.logger,
      connectChecks: [],
      publishChecks: [],
      keepaliveMaxSeconds: 60,
      decisions: { inc: (evt, reason) => { counted.push(`${evt}:${reason}`) } },
      owners,
      maxRetainedSize: 64,
      ...over,
    })
  }
  beforeEach(() => {
    sink = new AuditSink()
    sessions = new SessionRegistry()
    owners = new MemoryClientIdOwners()
    counted = []
    infos = new Map()
    hooks = make()
  })

  const car = () => identityOf(f.vehicle, f.issuing, f.root)
  const backend = () => identityOf(f.backend, f.issuing, f.root)

  function client (id: string, identity: Identity | null, extra: Partial<ConnectionInfo> = {}): FakeClient {
    const c = new FakeClient(id)
    infos.set(c, { identity, remote: '10.0.0.7', ...extra })
    return c
  }
  function connectPacket (c: FakeClient, over: Partial<ConnectPacket> = {}): ConnectPacket {
    return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: c.clean, clientId: c.id, keepalive: 30, ...over } as ConnectPacket
  }
  async function preConnect (h: FleetgateHooks, c: FakeClient, packet: ConnectPacket): Promise<void> {
    await new Promise<void>((resolve, reject) => h.preConnect(asClient(c), packet, (err, ok) => (err || !ok ? reject(err ?? new Error('refused')) : resolve())))
  }
  function authenticate (c: FakeClient, h = hooks): Promise<Answer> {
    return new Promise((resolve) => h.authenticate(asClient(c), undefined, undefined, (error, ok) => resolve({ error, ok })))
  }
  async function admitted (c: FakeClient, h = hooks): Promise<FakeClient> {
    await preConnect(h, c, connectPacket(c))
    const a = await authenticate(c, h)
    expect(a.error, a.error?.message).to.equal(null)
    c.connackSent = true
    return c
  }
  function refusedFor (a: Answer): string {
    if (a.error === null) return 'admitted'
    expect(a.error).to.be.instanceOf(RefusalError)
    expect(a.error.returnCode, 'CONNACK 5').to.equal(5)
    expect(a.ok).to.equal(false)
    return (a.error as RefusalError).reason
  }
  const publish = (topic: string, payload = 'x', over: Partial<PublishPacket> = {}): PublishPacket =>
    ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false, ...over }) as PublishPacket
  function authorizePublish (c: FakeClient | null, packet: PublishPacket, h = hooks): Promise<string> {
    return new Promise((resolve) => h.authorizePublish(c && asClient(c), packet, (err) => resolve(err ? err.message : 'allowed')))
  }
  function authorizeSubscribe (c: FakeClient, topic: string, h = hooks): Promise<string> {
    return new Promise((resolve) => h.authorizeSubscribe(asClient(c), { topic, qos: 1 }, (err, sub) => resolve(err ? err.message : sub ? 'granted' : 'denied')))
  }

  describe('preConnect', () => {
    it('clamps a keepalive of 0 or above the maximum to the maximum, keeps one below it', async () => {
      for (const [asked, got] of [[0, 60], [600, 60], [30, 30]] as const) {
        const c = new FakeClient(VIN)
        const p = connectPacket(c, { keepalive: asked })
        await preConnect(hooks, c, p)
        expect(p.keepalive, `keepalive ${asked}`).to.equal(got)
      }
    })
  })

  describe('authenticate', () => {
    it('admits a car with its VIN as clientId: session registered (role vehicle), owner claimed, connect.allow audited and counted', async () => {
      const c = await admitted(client(VIN, car()))
      const session = sessions.get(asClient(c))!
      expect(session.grant.role).to.equal('vehicle')
      expect(session.identity.fingerprint).to.equal(car().fingerprint)
      expect(await owners.holder(VIN)).to.include({ fp: car().fingerprint, role: 'vehicle', node: 'node-a' })
      expect(sink.find('connect.allow')[0]).to.include({ role: 'vehicle', remote: '10.0.0.7' })
      expect(counted).to.deep.equal(['connect.allow:ok'])
    })

    it('refuses with CONNACK 5 and the reason: no certificate, a refusal decided at TLS, a connect check, the policy', async () => {
      expect(refusedFor(await authenticate(client(VIN, null)))).to.equal('no_client_auth')
      expect(refusedFor(await authenticate(client(VIN, car(), { refusal: { reason: 'too_many_connections', detail: '3 connections' } })))).to.equal('too_many_connections')
      expect(refusedFor(await authenticate(client(OTHER_VIN, car())))).to.equal('client_id_mismatch')
      const revoked: ConnectCheck = async () => ({ ok: false, reason: 'revoked', detail: 'fingerprint 0123' })
      expect(refusedFor(await authenticate(client(VIN, car()), make({ connectChecks: [revoked] })))).to.equal('revoked')
      expect(sink.find('connect.deny').map((l) => l.reason)).to.deep.equal(['no_client_auth', 'too_many_connections', 'client_id_mismatch', 'revoked'])
      expect(counted).to.deep.equal(['connect.deny:no_client_auth', 'connect.deny:too_many_connections', 'connect.deny:client_id_mismatch', 'connect.deny:revoked'])
      expect(sessions.size).to.equal(0)
      expect(await owners.holder(VIN), 'a refused client writes no owner record').to.equal(null)
    })

    it('a connect check that throws refuses (fail closed), never admits', async () => {
      const broken: ConnectCheck = async () => { throw new Error('boom') }
      expect(refusedFor(await authenticate(client(VIN, car()), make({ connectChecks: [broken] })))).to.equal('revocation_unavailable')
    })

    it('refuses a Will on a command topic whoever may publish there, and a Will outside the grant (will_denied)', async () => {
      const b = client('fleet-backend', backend())
      await preConnect(hooks, b, connectPacket(b, { will: { topic: `vehicles/${VIN}/commands`, payload: Buffer.from('x'), qos: 0, retain: false } }))
      expect(refusedFor(await authenticate(b))).to.equal('will_denied')
      const c = client(VIN, car())
      await preConnect(hooks, c, connectPacket(c, { will: { topic: `vehicles/${OTHER_VIN}/status`, payload: Buffer.from('x'), qos: 0, retain: false } }))
      expect(refusedFor(await authenticate(c))).to.equal('will_denied')
      const ok = client(VIN, car())
      await preConnect(hooks, ok, connectPacket(ok, { will: { topic: `vehicles/${VIN}/status`, payload: Buffer.from('offline'), qos: 1, retain: true } }))
      expect(refusedFor(await authenticate(ok))).to.equal('admitted')
    })

    it('a clientId another identity holds is refused (client_id_mismatch, the holder named); free again once it closes', async () => {
      const first = await admitted(client('ops-eu-1', ops))
      expect(refusedFor(await authenticate(client('ops-eu-1', opsEu)))).to.equal('client_id_mismatch')
      expect(sink.find('connect.deny', { reason: 'client_id_mismatch' })[0]!.detail).to.match(/^clientId owned by another identity \(role fleet-backend, since /)
      first.close()
      await new Promise((resolve) => setImmediate(resolve))
      expect(sessions.size).to.equal(0)
      expect(refusedFor(await authenticate(client('ops-eu-1', opsEu)))).to.equal('admitted')
    })

    it('the identity a clientId names takes it back from one that only covered it, and its persistent CONNECT becomes clean', async () => {
      await admitted(client('ops-eu', ops))
      const back = client('ops-eu', opsEu)
      back.clean = false
      const packet = connectPacket(back)
      await preConnect(hooks, back, packet)
      expect(refusedFor(await authenticate(back))).to.equal('admitted')
      expect(sink.find('owner.reclaim')).to.have.length(1)
      expect(packet.clean).to.equal(true)
      expect(back.clean).to.equal(true)
    })

    it('answers nothing (and audits no decision) to a client whose socket died while it was decided', async () => {
      const answered: string[] = []
      for (const c of [client(VIN, car()), client(OTHER_VIN, car())]) {
        hooks.authenticate(asClient(c), undefined, undefined, () => { answered.push(c.id) })
        c.closed = true
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(answered).to.deep.equal([])
      expect(sink.find('connect.deny')).to.deep.equal([])
      expect(sessions.size).to.equal(0)
      expect(await owners.holder(VIN)).to.equal(null)
    })
  })

  describe('authorizePublish', () => {
    it('allows a car its own topics; refuses another car\'s (topic_denied), audited and counted', async () => {
      const c = await admitted(client(VIN, car()))
      expect(await authorizePublish(c, publish(`vehicles/${VIN}/telemetry/speed`))).to.equal('allowed')
      expect(await authorizePublish(c, publish(`vehicles/${OTHER_VIN}/telemetry/speed`))).to.equal('topic_denied')
      expect(sink.find('publish.deny')[0]).to.include({ reason: 'topic_denied', topic: `vehicles/${OTHER_VIN}/telemetry/speed` })
      expect(counted).to.include('publish.deny:topic_denied')
    })

    it('retain: only the role\'s retain topics, bounded in size; never a retained command', async () => {
      const c = await admitted(client(VIN, car()))
      expect(await authorizePublish(c, publish(`vehicles/${VIN}/status`, 'online', { retain: true }))).to.equal('allowed')
      expect(await authorizePublish(c, publish(`vehicles/${VIN}/status`, 'x'.repeat(65), { retain: true }))).to.equal('retain_denied')
      expect(await authorizePublish(c, publish(`vehicles/${VIN}/telemetry/speed`, '1', { retain: true }))).to.equal('retain_denied')
      const b = await admitted(client('fleet-backend', backend()))
      expect(await authorizePublish(b, publish(`vehicles/${VIN}/commands`, 'jws'))).to.equal('allowed')
      expect(await authorizePublish(b, publish(`vehicles/${VIN}/commands`, 'jws', { retain: true }))).to.equal('retained_command')
    })

    it('runs the extra publish checks after the topic rules: a refusal, a throw (publish check failed), a check that answers after the session ended', async () => {
      const refuse: PublishCheck = async (_s, p) => (p.topic.endsWith('/commands') ? { ok: false, reason: 'command_rejected', detail: 'bad_signature', audit: { commandReason: 'bad_signature' } } : { ok: true })
      const h = make({ publishChecks: [refuse] })
      const b = await admitted(client('fleet-backend', backend()), h)
      expect(await authorizePublish(b, publish(`vehicles/${VIN}/commands`), h)).to.equal('command_rejected')
      expect(sink.find('publish.deny', { reason: 'command_rejected' })[0]).to.include({ commandReason: 'bad_signature' })
      const thrower = make({ publishChecks: [() => { throw new Error('boom') }] })
      expect(await authorizePublish(b, publish(`vehicles/${VIN}/commands`), thrower)).to.equal('publish check failed')
      let release!: () => void
      const slow: PublishCheck = () => new Promise((resolve) => { release = () => resolve({ ok: true }) })
      const hs = make({ publishChecks: [slow] })
      const pending = authorizePublish(b, publish(`vehicles/${VIN}/commands`), hs)
      endSession(asClient(b), sessions.get(asClient(b))!, { evt: 'revocation.kick', reason: 'revoked', message: 'revoked' })
      release()
      expect(await pending).to.equal('session ended')
    })

    it('a Will with no client (left by a dead cluster node) passes; a client with no session does not; the Will of a session fleetgate ended is dropped', async () => {
      expect(await authorizePublish(null, publish(`vehicles/${VIN}/status`))).to.equal('allowed')
      expect(await authorizePublish(new FakeClient('stranger'), publish('a'))).to.equal('no session')
      const c = await admitted(client(VIN, car()))
      endSession(asClient(c), sessions.get(asClient(c))!, { evt: 'policy.kick', reason: 'policy_changed', message: 'reload' })
      expect(await authorizePublish(c, publish(`vehicles/${VIN}/status`, 'offline'))).to.equal('will dropped')
      expect(sink.find('will.drop', { reason: 'policy_changed' })).to.have.length(1)
    })
  })

  describe('authorizeSubscribe', () => {
    it('grants a filter the role covers, denies the rest (SUBACK 0x80); one audit line per SUBSCRIBE packet', async () => {
      const c = await admitted(client(VIN, car()))
      expect(await authorizeSubscribe(c, `vehicles/${VIN}/commands`)).to.equal('granted')
      expect(await authorizeSubscribe(c, 'vehicles/#')).to.equal('denied')
      await new Promise((resolve) => process.nextTick(resolve))
      expect(sink.find('subscribe.deny')).to.have.length(1)
      expect(counted.filter((x) => x === 'subscribe.deny:filter_denied')).to.have.length(1)
    })

    it(`closes a connection past ${MAX_SUBSCRIBE_DENIALS} denied filters (too_many_denials), but not while its session is being restored`, async () => {
      const restoring = await admitted(client(VIN, car()))
      restoring.connackSent = false
      for (let i = 0; i <= MAX_SUBSCRIBE_DENIALS; i++) void authorizeSubscribe(restoring, `other/${i}`)
      await new Promise((resolve) => process.nextTick(resolve))
      expect(restoring.closed, 'stored filters at a restore are not the client\'s doing').to.equal(false)
      const c = await admitted(client('fleet-backend', backend()))
      for (let i = 0; i <= MAX_SUBSCRIBE_DENIALS; i++) void authorizeSubscribe(c, `other/${i}`)
      await new Promise((resolve) => process.nextTick(resolve))
      expect(c.closed).to.equal(true)
      expect(sink.find('subscribe.kick', { reason: 'too_many_denials' })).to.have.length(1)
      expect(counted).to.include('subscribe.kick:too_many_denials')
    })

    it('runs the extra subscribe checks only on filters the role allows, in order; a refusal (sync or async) is SUBACK 0x80 with its reason', async () => {
      const seen: string[] = []
      const noStatus: SubscribeCheck = (session, filter) => {
        seen.push(`sync ${session.identity.subject.CN?.[0]} ${filter}`)
        return filter.endsWith('/status') ? { ok: false, reason: 'filter_denied', detail: 'no status feed for this backend', audit: { rule: 'no-status' } } : { ok: true }
      }
      const notSpeed: SubscribeCheck = async (_session, filter) => {
        seen.push(`async ${filter}`)
        return filter.endsWith('/speed') ? { ok: false, reason: 'filter_denied', detail: 'speed is private' } : { ok: true }
      }
      const h = make({ subscribeChecks: [noStatus, notSpeed] })
      const c = await admitted(client('fleet-backend', backend()), h)
      expect(await authorizeSubscribe(c, 'vehicles/+/telemetry/+', h)).to.equal('granted')
      expect(await authorizeSubscribe(c, 'vehicles/+/status', h)).to.equal('denied')
      expect(await authorizeSubscribe(c, 'vehicles/+/telemetry/speed', h)).to.equal('denied')
      expect(await authorizeSubscribe(c, 'not/a/fleet/topic', h), 'the topic rules first').to.equal('denied')
      expect(seen).to.deep.equal([
        'sync fleet-backend vehicles/+/telemetry/+', 'async vehicles/+/telemetry/+',
        'sync fleet-backend vehicles/+/status',
        'sync fleet-backend vehicles/+/telemetry/speed', 'async vehicles/+/telemetry/speed',
      ])
      expect(sink.find('subscribe.deny', { filter: 'vehicles/+/status' })[0]).to.include({ reason: 'filter_denied', detail: 'no status feed for this backend', rule: 'no-status' })
      expect(sink.find('subscribe.deny', { filter: 'vehicles/+/telemetry/speed' })).to.have.length(1)
      expect(counted.filter((x) => x === 'subscribe.deny:filter_denied')).to.have.length(3)
    })

    it('fails closed: a subscribe check that throws or rejects denies the filter, audited subscribe.error', async () => {
      const broken: SubscribeCheck = (_session, filter) => {
        if (filter.endsWith('/status')) throw new Error('policy service down')
        return Promise.reject(new Error('timeout'))
      }
      const h = make({ subscribeChecks: [broken] })
      const c = await admitted(client('fleet-backend', backend()), h)
      expect(await authorizeSubscribe(c, 'vehicles/+/status', h)).to.equal('denied')
      expect(await authorizeSubscribe(c, 'vehicles/+/telemetry/+', h)).to.equal('denied')
      expect(sink.find('subscribe.error')).to.have.length(2)
    })
  })

  describe('authorizeForward', () => {
    it('delivers only what the connection\'s grant may receive, and nothing to a session fleetgate ended', async () => {
      const c = await admitted(client(VIN, car()))
      const packet = (topic: string) => ({ ...publish(topic), brokerId: 'node-a', brokerCounter: 1 }) as AedesPublishPacket
      expect(hooks.authorizeForward(asClient(c), packet(`vehicles/${VIN}/commands`))).to.not.equal(null)
      expect(hooks.authorizeForward(asClient(c), packet(`vehicles/${OTHER_VIN}/commands`))).to.equal(null)
      expect(hooks.authorizeForward(asClient(new FakeClient('stranger')), packet(`vehicles/${VIN}/commands`))).to.equal(null)
      endSession(asClient(c), sessions.get(asClient(c))!, { evt: 'revocation.kick', reason: 'revoked', message: 'revoked' })
      expect(hooks.authorizeForward(asClient(c), packet(`vehicles/${VIN}/commands`))).to.equal(null)
    })
  })
})
