// The service's retirement rules (README "Provisioning and rotation") with the
// real embedded stores on disk and an injected clock: rotation keeps the old
// certificate until the new one connects or the grace period ends; a
// re-provisioning revokes every earlier certificate at once.
import { expect } from 'chai'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { createRootCa, createIntermediateCa, generateKey, randomVin } from '../../../src/pki/index.js'
import { REGISTRY_STORES, REVOCATION_STORES } from '../../../src/revocation/index.js'
import { closeStores, openStores, type DeviceRegistry, type RevocationStore } from '../../../src/stores/index.js'
import { createAuditLogger } from '../../../src/audit/index.js'
import { buildCsr, createFastIssuer, FileProvisionerState, ProvisioningService, type IssuedResponse } from '../../../src/provisioning/index.js'

describe('provisioning: service retirement (embedded stores)', function () {
  let now = Date.parse('2030-01-01T00:00:00Z')
  let service: ProvisioningService
  let store: RevocationStore
  let registry: DeviceRegistry
  const sent: Array<{ topic: string; body: IssuedResponse }> = []

  let state: FileProvisionerState
  let issuing: Awaited<ReturnType<typeof createIntermediateCa>>
  before(async function () {
    const root = await createRootCa()
    issuing = await createIntermediateCa(root, 'issuing')
    const dir = mkdtempSync(join(tmpdir(), 'fg-prov-svc-'))
    ;({ revocations: store, registry } = await openStores({ dataDir: dir }, { revocations: REVOCATION_STORES, registry: REGISTRY_STORES }))
    service = new ProvisioningService({
      issuer: createFastIssuer(issuing.cert, issuing.key),
      revocations: store,
      registry,
      state: (state = new FileProvisionerState(dir, () => now)),
      log: createAuditLogger({ level: 'silent' }),
      lifetimeMs: 86_400_000,
      graceMs: 3_600_000,
      rateLimit: { count: 100, windowMs: 3_600_000 },
      publish: async (topic, payload) => { sent.push({ topic, body: JSON.parse(payload) as IssuedResponse }) },
      now: () => new Date(now),
    })
  })
  after(async function () { await state.close(); await closeStores([store, registry]) })

  async function ask (channel: 'provision' | 'rotate', vin: string): Promise<string> {
    const topic = channel === 'provision' ? `provisioning/${vin}/request` : `vehicles/${vin}/certificate/request`
    const outcome = await service.handle(topic, Buffer.from(JSON.stringify({ v: 1, nonce: `n${sent.length}`, csr: buildCsr(generateKey(), [['CN', vin]]) })))
    expect(outcome).to.equal('issued')
    return new X509Certificate(sent.at(-1)!.body.certificate).fingerprint256.replace(/:/g, '').toLowerCase()
  }

  it('rotation: the old certificate stays until the grace period ends, then it is superseded and revoked', async function () {
    const vin = randomVin()
    const a = await ask('provision', vin)
    const b = await ask('rotate', vin)
    expect((await registry.get(vin))[a]?.state).to.equal('issued')
    expect(await service.sweep()).to.equal(0)
    now += 3_600_000
    expect(await service.sweep()).to.equal(1)
    expect((await registry.get(vin))[a]?.state).to.equal('revoked')
    expect((await registry.get(vin))[b]?.state).to.equal('issued')
    expect((await store.status({ targets: [{ fingerprint: a }] })).revoked).to.include({ reason: 'superseded' })
    expect(await service.sweep()).to.equal(0)
  })

  it('rotation: the new certificate\'s first connect retires the old one at once (and cancels its grace)', async function () {
    const vin = randomVin()
    const a = await ask('provision', vin)
    const b = await ask('rotate', vin)
    expect(await service.onFirstConnect(vin, b)).to.equal(1)
    expect((await registry.get(vin))[a]?.state).to.equal('revoked')
    now += 3_600_000
    expect(await service.sweep()).to.equal(0)
    expect(await service.onFirstConnect(vin, 'f'.repeat(64))).to.equal(0) // not one of ours
  })

  it('re-provisioning revokes every earlier certificate at once (keyCompromise)', async function () {
    const vin = randomVin()
    const a = await ask('provision', vin)
    const b = await ask('rotate', vin)
    const c = await ask('provision', vin)
    const reg = await registry.get(vin)
    expect([reg[a]?.state, reg[b]?.state, reg[c]?.state]).to.deep.equal(['revoked', 'revoked', 'issued'])
    expect((await store.status({ targets: [{ fingerprint: b }] })).revoked).to.include({ reason: 'keyCompromise' })
  })

  it('a re-provisioning whose revocation write failed is not answered, and its retry (same nonce) revokes, then answers', async function () {
    const vin = randomVin()
    const a = await ask('provision', vin)
    let failures = 1
    // the same store, whose next revocation write fails (a full disk, Redis gone)
    const flaky = new Proxy(store, {
      get (target, prop) {
        if (prop === 'revoke' && failures > 0) { failures--; return async () => { throw new Error('disk full') } }
        const v = Reflect.get(target, prop, target) as unknown
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
      },
    })
    const retrying = new ProvisioningService({
      issuer: createFastIssuer(issuing.cert, issuing.key), revocations: flaky, registry, state,
      log: createAuditLogger({ level: 'silent' }), lifetimeMs: 86_400_000, graceMs: 3_600_000,
      rateLimit: { count: 100, windowMs: 3_600_000 },
      publish: async (topic, payload) => { sent.push({ topic, body: JSON.parse(payload) as IssuedResponse }) },
      now: () => new Date(now),
    })
    const request = Buffer.from(JSON.stringify({ v: 1, nonce: 'retry-after-failure', csr: buildCsr(generateKey(), [['CN', vin]]) }))
    const answered = sent.length
    let failed: unknown = null
    try { await retrying.handle(`provisioning/${vin}/request`, request) } catch (err) { failed = err }
    expect((failed as Error | null)?.message).to.equal('disk full')
    expect(sent.length).to.equal(answered) // no certificate went out
    expect(await retrying.handle(`provisioning/${vin}/request`, request)).to.equal('issued') // not 'replayed'
    expect((await store.status({ targets: [{ fingerprint: a }] })).revoked).to.include({ reason: 'keyCompromise' })
  })

  it('a first connect heard late cuts nothing issued after it: not the re-provisioned car\'s, not a rotation successor', async function () {
    // the race the broker test hit: a thief connects with the old certificate (first_connect), the car
    // re-provisions, and the provisioner hears the first_connect only after it issued the new certificate
    const vin = randomVin()
    const old = await ask('provision', vin)
    now += 1000
    const fresh = await ask('provision', vin)
    expect((await registry.get(vin))[old]?.state).to.equal('revoked')
    expect(await service.onFirstConnect(vin, old)).to.equal(0)
    expect((await registry.get(vin))[fresh]?.state).to.equal('issued')
    // rotation: a stale first connect of the predecessor leaves the successor alone
    now += 1000
    const next = await ask('rotate', vin)
    expect(await service.onFirstConnect(vin, fresh)).to.equal(0)
    expect((await registry.get(vin))[next]?.state).to.equal('issued')
    // the successor's own first connect retires its predecessor, as before
    expect(await service.onFirstConnect(vin, next)).to.equal(1)
    expect((await registry.get(vin))[fresh]?.state).to.equal('revoked')
  })
})
