// The clientId owner store contract (src/stores/owners.ts), run against every
// implementation: describeClientIdOwnerStore(name, makeStore) per store. One
// claim rule for all (claimOutcome), the forget that spares a record claimed
// again since, release by token only.
import { expect } from 'chai'
import { ownerRecord } from '../../src/sessions/index.js'
import type { ClientIdOwnerStore, OwnerRecord } from '../../src/stores/index.js'
import type { Identity } from '../../src/identity/index.js'
import { storesPerTest, type MakeStore } from './harness.js'

export function identity (cn: string, root: string): Identity {
  return {
    subject: { CN: [cn], OU: ['fleet-backend'] }, issuer: {}, san: { dns: [], uri: [], ip: [], email: [] }, serial: '1', fingerprint: `${cn}-${root}-leaf`,
    issuerFingerprint: 'issuing', chain: [{ fingerprint: 'issuing', serial: '2', issuerFingerprint: root, subject: {} }, { fingerprint: root, serial: '3', issuerFingerprint: null, subject: {} }],
    notBefore: new Date(0), notAfter: new Date(8.64e15), eku: [], policies: [],
  }
}

const record = (cn: string, at: number, root = 'root-a'): OwnerRecord => ownerRecord(identity(cn, root), 'fleet-backend', 'node-1', at)

export function describeClientIdOwnerStore (name: string, makeStore: MakeStore<ClientIdOwnerStore>): void {
  describe(`clientId owner store contract: ${name}`, function () {
    this.timeout(20_000)
    const stores = storesPerTest(makeStore)

    it('claim: free or the same identity; another is refused; the CN the clientId names takes it from a covering one', async () => {
      const store = await stores.open()
      expect(await store.claim('ops-eu', record('ops-eu', 1))).to.deep.equal({ ok: true })
      expect(await store.claim('ops-eu', record('ops-eu', 2))).to.deep.equal({ ok: true })
      const refused = await store.claim('ops-eu', record('ops', 3))
      expect(refused.ok).to.equal(false)
      expect(!refused.ok && refused.holder.name).to.equal(record('ops-eu', 2).name)
      expect(await store.claim('ops-eu', record('ops-eu', 4, 'root-b'))).to.have.property('ok', false) // same CN, another root
      expect(await store.claim('ops-x', record('ops', 5))).to.deep.equal({ ok: true })
      const took = await store.claim('ops-x', record('ops-x', 6))
      expect(took.ok && took.took?.cn).to.equal('ops')
    })

    it('holder: the record as claimed (null when free)', async () => {
      const store = await stores.open()
      expect(await store.holder('c0')).to.equal(null)
      const r = record('c0', 1234)
      await store.claim('c0', r)
      expect(await store.holder('c0')).to.deep.equal(r)
    })

    it('forget(clientId, claimedBefore) spares a record claimed since: the owner came back', async () => {
      const store = await stores.open()
      await store.claim('c1', record('c1', 1000))
      await store.forget('c1', 999)
      expect((await store.holder('c1'))?.at).to.equal(1000)
      await store.forget('c1', 1000)
      expect(await store.holder('c1')).to.equal(null)
      await store.claim('c1', record('c1', 2000))
      await store.forget('c1')
      expect(await store.holder('c1')).to.equal(null)
    })

    it('release: a clean session\'s record goes with its own token only; a persistent one stays', async () => {
      const store = await stores.open()
      const r = record('c2', 1)
      await store.claim('c2', r)
      await store.release('c2', 'not-its-token', false)
      await store.release('c2', r.token, true)
      expect((await store.holder('c2'))?.token).to.equal(r.token)
      await store.release('c2', r.token, false)
      expect(await store.holder('c2')).to.equal(null)
    })

    it('claims of two identities at once: exactly one wins', async () => {
      const store = await stores.open()
      for (let i = 0; i < 20; i++) {
        const results = await Promise.all([store.claim(`race-${i}`, record('ops', i)), store.claim(`race-${i}`, record('svc', i))])
        expect(results.filter((c) => c.ok), `round ${i}`).to.have.length(1)
      }
    })
  })
}
