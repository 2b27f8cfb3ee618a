// The revocation guard with a real embedded store (a file in a temp dir, no Redis)
// and the broker's session registry behind the LiveSessions port; the live
// sessions are plain objects standing in for Aedes clients (close() is all the
// guard's end needs). No socket.
import { expect } from 'chai'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Client } from 'aedes'
import { RevocationGuard } from '../../../src/checks/index.js'
import { FileRevocationStore } from '../../../src/revocation/index.js'
import { certificateStatus, type CertificateQuery, type CertificateStatusSource, type RevocationStore } from '../../../src/stores/index.js'
import { SessionRegistry, type Session } from '../../../src/broker/session.js'
import { liveSessionsOf } from '../../../src/broker/end-session.js'
import type { Identity } from '../../../src/identity/index.js'
import type { IssuedCertificate } from '../../../src/pki/index.js'
import { issueLeaf } from '../../../src/pki/index.js'
import { AuditSink } from '../../harness/audit-sink.js'
import { fixtures, type Fixtures } from '../commands/fixtures.js'
import { identityOf } from './identities.js'

interface FakeClient { id: string; closed: boolean; close (): void }

/** The real store as the connect check reads it, switched off at will: status() rejects as a store that cannot be reached does. */
class Outage implements CertificateStatusSource {
  down = false
  readonly #view: CertificateStatusSource
  constructor (readonly real: RevocationStore) { this.#view = certificateStatus(real) }
  healthy () { return !this.down && this.#view.healthy() }
  async status (q: CertificateQuery) { if (this.down) throw new Error('store unreachable'); return await this.#view.status(q) }
  markActive (vin: string, fp: string) { return this.#view.markActive(vin, fp) }
  watch (on: Parameters<CertificateStatusSource['watch']>[0]) { return this.#view.watch(on) }
  revoke (...a: Parameters<RevocationStore['revoke']>) { return this.real.revoke(...a) }
}

const entry = { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' }

async function until (what: string, test: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('checks/RevocationGuard (embedded store, LiveSessions port)', function () {
  this.timeout(20_000)
  let f: Fixtures
  let otherBackend: IssuedCertificate
  let dir: string
  let file: FileRevocationStore
  let store: Outage
  let sink: AuditSink
  let registry: SessionRegistry
  let counted: string[]
  let guard: RevocationGuard
  const guards: RevocationGuard[] = []

  before(async () => {
    f = await fixtures()
    otherBackend = await issueLeaf(f.issuing, 'fleet-backend', 'other-backend')
  })
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fg-guard-'))
    file = await FileRevocationStore.open({ dataDir: dir })
    store = new Outage(file)
    sink = new AuditSink()
    registry = new SessionRegistry()
    counted = []
    guard = make()
    await guard.listen()
  })
  afterEach(async () => {
    for (const g of guards.splice(0)) await g.stop()
    await file.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function make (over: { failOpen?: boolean } = {}): RevocationGuard {
    const decisions = { inc: (evt: string, reason: string) => { counted.push(`${evt}:${reason}`) } }
    const g = new RevocationGuard({
      store, sessions: liveSessionsOf(registry, decisions), log: sink.logger, decisions,
      recheckMs: 60_000, cacheMs: 60_000, failOpen: over.failOpen ?? false,
    })
    guards.push(g)
    return g
  }

  /** a live session of `identity`, registered as the broker's authenticate does */
  function connect (id: string, identity: Identity): FakeClient {
    const client: FakeClient = { id, closed: false, close () { client.closed = true } }
    const session = { identity, log: sink.logger, remote: '127.0.0.1', grant: undefined } as unknown as Session
    registry.set(client as unknown as Client, session)
    return client
  }

  const backend = () => identityOf(f.backend, f.issuing, f.root)
  const car = () => identityOf(f.vehicle, f.issuing, f.root)

  describe('the connect check', () => {
    it('admits a certificate nobody revoked, refuses it (revoked) once its leaf is revoked', async () => {
      expect(await guard.check(backend())).to.deep.equal({ ok: true })
      await store.revoke([{ fingerprint: backend().fingerprint }], entry)
      await until('the event', () => !guard.cache.isClean(backend().fingerprint))
      const r = await guard.check(backend())
      expect(r).to.include({ ok: false, reason: 'revoked' })
    })

    it('refuses every leaf below a revoked CA, by the CA\'s issuer + serial', async () => {
      const issuing = backend().chain[0]!
      await store.revoke([{ issuer: issuing.issuerFingerprint!, serial: issuing.serial }], entry)
      expect(await guard.check(backend())).to.include({ ok: false, reason: 'revoked' })
      expect(await guard.check(car())).to.include({ ok: false, reason: 'revoked' })
    })

    it('fails closed when the store cannot answer (revocation_unavailable), but a recent clean answer stands', async () => {
      expect(await guard.check(backend())).to.deep.equal({ ok: true })
      store.down = true
      expect(await guard.check(backend())).to.deep.equal({ ok: true })
      expect(sink.find('revocation.cached')).to.have.length(1)
      const r = await guard.check(car())
      expect(r).to.include({ ok: false, reason: 'revocation_unavailable', detail: 'store unreachable' })
    })

    it('with --revocation-fail-open admits unchecked, loudly, and counts it', async () => {
      const open = make({ failOpen: true })
      await open.listen()
      expect(sink.find('revocation.fail_open_configured')).to.have.length(1)
      store.down = true
      expect(await open.check(car())).to.deep.equal({ ok: true })
      expect(sink.find('revocation.fail_open')[0]).to.include({ level: 'error' })
      expect(counted).to.deep.equal(['revocation.fail_open:revocation_unavailable'])
    })
  })

  describe('live enforcement', () => {
    it('a revocation event ends every live session of that certificate, audited and counted once; other certificates stay', async () => {
      const a = connect('fleet-backend-a', backend())
      const b = connect('fleet-backend-b', backend())
      const other = connect('other-backend', identityOf(otherBackend, f.issuing, f.root))
      await store.revoke([{ fingerprint: backend().fingerprint }], entry)
      await until('both sessions ended', () => a.closed && b.closed)
      expect(other.closed).to.equal(false)
      const kicks = sink.find('revocation.kick', { reason: 'revoked', via: 'event' })
      expect(kicks).to.have.length(2)
      expect(kicks[0]!.target).to.match(/^fingerprint /)
      expect(counted).to.deep.equal(['revocation.kick:revoked', 'revocation.kick:revoked'])
      expect(registry.get(a as unknown as Client)!.endedFor).to.equal('revoked')
    })

    it('a revoked issuing CA ends every session under it', async () => {
      const a = connect('fleet-backend-a', backend())
      const c = connect(f.vehicle.commonName, car())
      await store.revoke([{ fingerprint: backend().chain[0]!.fingerprint }], entry)
      await until('both sessions ended', () => a.closed && c.closed)
    })

    it('the periodic re-check ends a session whose revocation no event announced', async () => {
      await guard.stop()
      const quiet = make() // never listens: no event reaches it
      const a = connect('fleet-backend-a', backend())
      const other = connect('other-backend', identityOf(otherBackend, f.issuing, f.root))
      await store.revoke([{ fingerprint: backend().fingerprint }], entry)
      expect(await quiet.recheckAll('periodic')).to.equal(1)
      expect(a.closed).to.equal(true)
      expect(other.closed).to.equal(false)
      expect(sink.find('revocation.kick', { via: 'recheck' })).to.have.length(1)
      // a session already ended is not ended (nor counted) again
      expect(await quiet.recheckAll('periodic')).to.equal(0)
      expect(counted).to.deep.equal(['revocation.kick:revoked'])
    })

    it('a re-check that cannot reach the store ends nothing and says so', async () => {
      const a = connect('fleet-backend-a', backend())
      store.down = true
      expect(await guard.recheckAll('periodic')).to.equal(0)
      expect(a.closed).to.equal(false)
      expect(sink.find('revocation.recheck_failed')[0]).to.include({ failed: 1, of: 1 })
    })
  })
})
