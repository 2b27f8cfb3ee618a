// The revocation store contract (src/stores/revocations.ts), run against every
// implementation: describeRevocationStore(name, makeStore) per store.
import { expect } from 'chai'
import type { RevocationEvent, RevocationStore, RevokedRecord } from '../../src/stores/index.js'
import { fp, storesPerTest, until, type MakeStore } from './harness.js'

const AT = '2026-01-01T00:00:00.000Z'

export function describeRevocationStore (name: string, makeStore: MakeStore<RevocationStore>): void {
  describe(`revocation store contract: ${name}`, function () {
    this.timeout(20_000)
    const stores = storesPerTest(makeStore)

    it('answers null for targets nothing revoked, and for no targets; healthy while open', async () => {
      const s = await stores.open()
      expect(s.healthy()).to.equal(true)
      expect(await s.status({ targets: [{ fingerprint: fp(1) }, { issuer: fp(2), serial: 'abc' }] })).to.deep.include({ revoked: null })
      expect(await s.status({ targets: [] })).to.deep.include({ revoked: null })
      expect(await s.list()).to.deep.equal([])
    })

    it('states: inactive and quarantined found by fingerprint or issuer + serial, by another store too; activate clears; watchers hear each change', async () => {
      const writer = await stores.open()
      const reader = await stores.open()
      const heard: RevocationEvent[] = []
      await reader.watch((e) => heard.push(e))
      expect(writer.setState, 'an implementation keeps states').to.be.a('function')
      await writer.setState!([{ fingerprint: fp(1) }], { state: 'inactive', by: 'alice', reason: 'stolen', at: AT })
      await writer.setState!([{ issuer: fp(9), serial: 'abc' }], { state: 'quarantined', by: 'bob', reason: 'suspect', at: AT })
      for (const s of [writer, reader]) {
        expect((await s.status({ targets: [{ fingerprint: fp(0) }, { fingerprint: fp(1) }], fresh: true })).state).to.deep.equal({ fingerprint: fp(1), state: 'inactive', by: 'alice', reason: 'stolen', at: AT })
        expect((await s.status({ targets: [{ issuer: fp(9), serial: 'abc' }], fresh: true })).state).to.deep.include({ state: 'quarantined', by: 'bob' })
        expect((await s.status({ targets: [{ issuer: fp(8), serial: 'abc' }], fresh: true })).state).to.equal(null)
      }
      // a state is not a revocation
      expect((await reader.status({ targets: [{ fingerprint: fp(1) }] })).revoked).to.equal(null)
      await writer.setState!([{ fingerprint: fp(1) }], { state: 'active', by: 'carol', reason: 'found', at: AT, note: 'n' })
      expect((await reader.status({ targets: [{ fingerprint: fp(1) }], fresh: true })).state).to.equal(null)
      await until(() => heard.filter((e) => e.kind === 'state').length >= 3)
      expect(heard.filter((e) => e.kind === 'state').map((e) => e.kind === 'state' && e.target)).to.deep.equal([{ fingerprint: fp(1) }, { issuer: fp(9), serial: 'abc' }, { fingerprint: fp(1) }])
    })

    it('the operator log: every revoke() and state change with who, when and why, in order, by fingerprint or serial', async () => {
      const s = await stores.open()
      await s.setState!([{ fingerprint: fp(3) }], { state: 'inactive', by: 'alice', reason: 'stolen', at: AT, note: 'case 1' })
      await s.setState!([{ fingerprint: fp(3) }], { state: 'active', by: 'bob', reason: 'found', at: AT })
      await s.revoke([{ fingerprint: fp(3) }, { issuer: fp(9), serial: 'abc' }], { reason: 'keyCompromise', revokedAt: AT, by: 'carol', note: 'lost key' })
      const byFp = await (await stores.open()).history!({ fingerprint: fp(3) })
      expect(byFp.map((e) => [e.action, e.by, e.reason, e.note])).to.deep.equal([['deactivate', 'alice', 'stolen', 'case 1'], ['activate', 'bob', 'found', ''], ['revoke', 'carol', 'keyCompromise', 'lost key']])
      expect(byFp.every((e) => e.at === AT)).to.equal(true)
      expect((await s.history!({ serial: 'abc' })).map((e) => [e.action, e.target])).to.deep.equal([['revoke', { issuer: fp(9), serial: 'abc' }]])
      expect(await s.history!({ fingerprint: fp(4) })).to.deep.equal([])
    })

    it('revoke by fingerprint: found with its reason and date, by another store on the same place too', async () => {
      const writer = await stores.open()
      expect(await writer.revoke([{ fingerprint: fp(1) }], { reason: 'keyCompromise', revokedAt: AT })).to.equal(1)
      const reader = await stores.open()
      for (const s of [writer, reader]) {
        const { revoked } = await s.status({ targets: [{ fingerprint: fp(0) }, { fingerprint: fp(1) }] })
        expect(revoked).to.deep.equal({ fingerprint: fp(1), reason: 'keyCompromise', revokedAt: AT })
      }
      expect((await reader.status({ targets: [{ fingerprint: fp(2) }] })).revoked).to.equal(null)
    })

    it('revoke by issuer + serial: found by that pair only', async () => {
      const s = await stores.open()
      await s.revoke([{ issuer: fp(9), serial: 'abc' }], { reason: 'cACompromise', revokedAt: AT })
      expect((await s.status({ targets: [{ fingerprint: fp(1) }, { issuer: fp(9), serial: 'abc' }] })).revoked)
        .to.deep.equal({ issuer: fp(9), serial: 'abc', reason: 'cACompromise', revokedAt: AT })
      expect((await s.status({ targets: [{ issuer: fp(8), serial: 'abc' }] })).revoked).to.equal(null) // another issuer's serial
      expect((await s.status({ targets: [{ issuer: fp(9), serial: 'abd' }] })).revoked).to.equal(null)
      expect((await s.status({ targets: [{ fingerprint: fp(9) }] })).revoked).to.equal(null) // the issuer itself is not revoked
    })

    it('revokeMany: a reason and date per record, progress up to the total, every record listed', async () => {
      const s = await stores.open()
      const records: RevokedRecord[] = Array.from({ length: 1200 }, (_, i) => i % 2 === 0
        ? { fingerprint: fp(i), reason: 'superseded', revokedAt: AT }
        : { issuer: fp(100_000), serial: (i + 1).toString(16), reason: 'keyCompromise', revokedAt: `2026-01-02T00:00:${String(i % 60).padStart(2, '0')}.000Z` })
      const progress: Array<[number, number]> = []
      expect(await s.revokeMany(records, (done, total) => progress.push([done, total]))).to.equal(1200)
      expect(progress.at(-1)).to.deep.equal([1200, 1200])
      expect(progress.every(([done, total], i) => total === 1200 && (i === 0 || done > progress[i - 1]![0]))).to.equal(true)
      const listed = await (await stores.open()).list()
      const key = (r: RevokedRecord) => JSON.stringify(r, Object.keys(r).sort())
      expect(listed.map(key).sort()).to.deep.equal(records.map(key).sort())
      expect((await s.status({ targets: [{ issuer: fp(100_000), serial: (3 + 1).toString(16) }] })).revoked?.revokedAt).to.equal('2026-01-02T00:00:03.000Z')
    })

    it('revokeMany (an import) logs each new or changed record with who made it; a repeat import writes, announces and logs only what changed', async () => {
      const s = await stores.open()
      const watcher = await stores.open()
      const heard: RevocationEvent[] = []
      await watcher.watch((e) => heard.push(e))
      const first: RevokedRecord[] = [
        { issuer: fp(7), serial: 'a1', reason: 'keyCompromise', revokedAt: AT },
        { issuer: fp(7), serial: 'a2', reason: 'superseded', revokedAt: AT },
        { fingerprint: fp(8), reason: 'unspecified', revokedAt: AT },
      ]
      expect(await s.revokeMany(first, undefined, { by: 'alice', note: 'crl import ca.crl' })).to.equal(3)
      await until(() => heard.filter((e) => e.kind === 'revoked').length >= 3)
      // again, with a2's reason changed and a3 new: two written, logged and announced
      const second: RevokedRecord[] = [first[0]!, { ...first[1]!, reason: 'keyCompromise' }, first[2]!, { issuer: fp(7), serial: 'a3', reason: 'unspecified', revokedAt: AT }]
      expect(await s.revokeMany(second, undefined, { by: 'bob' })).to.equal(2)
      const reader = await stores.open()
      expect((await reader.history!({ serial: 'a1' })).map((e) => [e.action, e.by, e.reason, e.note, e.at])).to.deep.equal([['revoke', 'alice', 'keyCompromise', 'crl import ca.crl', AT]])
      expect((await reader.history!({ serial: 'a2' })).map((e) => [e.by, e.reason])).to.deep.equal([['alice', 'superseded'], ['bob', 'keyCompromise']])
      expect((await reader.history!({ serial: 'a3' })).map((e) => [e.by, e.note])).to.deep.equal([['bob', '']])
      expect((await reader.history!({ fingerprint: fp(8) })).map((e) => e.by)).to.deep.equal(['alice'])
      expect((await reader.status({ targets: [{ issuer: fp(7), serial: 'a2' }], fresh: true })).revoked?.reason).to.equal('keyCompromise')
      await until(() => heard.filter((e) => e.kind === 'revoked').length >= 5, 2000)
      await new Promise((resolve) => setTimeout(resolve, 200))
      expect(heard.filter((e) => e.kind === 'revoked').map((e) => e.kind === 'revoked' && e.target).slice(3)).to.deep.equal([{ issuer: fp(7), serial: 'a2' }, { issuer: fp(7), serial: 'a3' }])
      // nothing new: nothing written
      expect(await s.revokeMany(second, undefined, { by: 'carol' })).to.equal(0)
      expect(await reader.history!({ serial: 'a1' })).to.have.length(1)
    })

    it('watch: a revocation written through another store arrives as a `revoked` event naming its target', async () => {
      const watcher = await stores.open()
      const events: RevocationEvent[] = []
      await watcher.watch((e) => events.push(e))
      const writer = await stores.open()
      await writer.revoke([{ fingerprint: fp(5) }, { issuer: fp(6), serial: '7' }], { reason: 'keyCompromise', revokedAt: AT })
      expect(await until(() => events.filter((e) => e.kind === 'revoked').length >= 2)).to.equal(true)
      expect(events).to.deep.include({ kind: 'revoked', target: { fingerprint: fp(5) } })
      expect(events).to.deep.include({ kind: 'revoked', target: { issuer: fp(6), serial: '7' } })
      expect(watcher.healthy()).to.equal(true)
    })

    it('a fresh lookup of a watching store sees a write of another store at once (no waiting for its event)', async () => {
      const watcher = await stores.open()
      await watcher.watch(() => {})
      const writer = await stores.open()
      for (let i = 0; i < 5; i++) {
        await writer.revoke([{ fingerprint: fp(20 + i) }], { reason: 'keyCompromise', revokedAt: AT })
        expect((await watcher.status({ targets: [{ fingerprint: fp(20 + i) }], fresh: true })).revoked, `write ${i}`).to.include({ fingerprint: fp(20 + i) })
      }
    })

    it('close is final and may be called twice', async () => {
      const s = await stores.open()
      await s.close()
      await s.close()
      expect(s.healthy()).to.equal(false)
    })
  })
}
