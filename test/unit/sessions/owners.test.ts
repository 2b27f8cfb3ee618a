// The clientId owner stores (src/sessions): one claim rule for both, the forget that
// spares a record claimed again since, and who an identity is. Redis from a real redis-server.
import { expect } from 'chai'
import { MemoryClientIdOwners, RedisClientIdOwners, ownerName, ownerRecord, type ClientIdOwnerStore, type OwnerRecord } from '../../../src/sessions/index.js'
import type { Identity } from '../../../src/identity/index.js'
import { startRedis, type TestRedis } from '../../harness/redis.js'

function identity (cn: string, root: string): Identity {
  return {
    subject: { CN: [cn], OU: ['fleet-backend'] }, issuer: {}, san: { dns: [], uri: [], ip: [], email: [] }, serial: '1', fingerprint: `${cn}-${root}-leaf`,
    issuerFingerprint: 'issuing', chain: [{ fingerprint: 'issuing', serial: '2', issuerFingerprint: root, subject: {} }, { fingerprint: root, serial: '3', issuerFingerprint: null, subject: {} }],
    notBefore: new Date(0), notAfter: new Date(8.64e15), eku: [], policies: [],
  }
}

const record = (cn: string, at: number, root = 'root-a'): OwnerRecord => ownerRecord(identity(cn, root), 'fleet-backend', 'node-1', at)

describe('sessions: clientId owner stores', () => {
  it('an identity is its CN under its root CA: the same CN from another trusted root is another identity', () => {
    expect(ownerName(identity('ops-eu', 'root-a'))).to.equal('root-a/ops-eu')
    expect(ownerName(identity('ops-eu', 'root-a'))).to.not.equal(ownerName(identity('ops-eu', 'root-b')))
  })

  let redis: TestRedis
  before(async function () { this.timeout(20_000); redis = await startRedis() })
  after(async () => { await redis?.stop() })

  const stores: Array<[string, () => Promise<ClientIdOwnerStore>]> = [
    ['memory', async () => new MemoryClientIdOwners()],
    ['redis', async () => await RedisClientIdOwners.open({ url: redis.url, prefix: `t${Date.now()}:`, timeoutMs: 1000 })],
  ]
  for (const [kind, open] of stores) {
    describe(kind, () => {
      let store: ClientIdOwnerStore
      beforeEach(async () => { store = await open() })
      afterEach(async () => { await store.close() })

      it('claim: free or the same identity; another is refused; the CN the clientId names takes it from a covering one', async () => {
        expect(await store.claim('ops-eu', record('ops-eu', 1))).to.deep.equal({ ok: true })
        expect(await store.claim('ops-eu', record('ops-eu', 2))).to.deep.equal({ ok: true })
        const refused = await store.claim('ops-eu', record('ops', 3))
        expect(refused.ok).to.equal(false)
        expect(await store.claim('ops-eu', record('ops-eu', 4, 'root-b'))).to.have.property('ok', false) // same CN, another root
        expect(await store.claim('ops-x', record('ops', 5))).to.deep.equal({ ok: true })
        const took = await store.claim('ops-x', record('ops-x', 6))
        expect(took.ok && took.took?.cn).to.equal('ops')
      })

      it('forget(clientId, claimedBefore) spares a record claimed since: the owner came back', async () => {
        await store.claim('c1', record('c1', 1000))
        await store.forget('c1', 999)
        expect((await store.holder('c1'))?.at).to.equal(1000)
        await store.forget('c1', 1000)
        expect(await store.holder('c1')).to.equal(null)
      })

      it('release: a clean session\'s record goes with its own token only; a persistent one stays', async () => {
        const r = record('c2', 1)
        await store.claim('c2', r)
        await store.release('c2', 'not-its-token', false)
        await store.release('c2', r.token, true)
        expect((await store.holder('c2'))?.token).to.equal(r.token)
        await store.release('c2', r.token, false)
        expect(await store.holder('c2')).to.equal(null)
      })
    })
  }
})
