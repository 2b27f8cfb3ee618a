// The provisioner state contract (src/stores/provisioner-state.ts), run against
// every implementation: describeProvisionerState(name, makeState) per store.
// One provisioner per place (the embedded state holds a lock on its data dir).
import { expect } from 'chai'
import type { ProvisionerState } from '../../src/stores/index.js'
import { storesPerTest, type MakeStore } from './harness.js'

const answer = (n: number) => ({ v: 1, nonce: `n${n}`, status: 'issued', certificate: `cert ${n}`, chain: 'chain', notAfter: '2030-01-01T00:00:00.000Z' })
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function describeProvisionerState (name: string, makeState: MakeStore<ProvisionerState>): void {
  describe(`provisioner state contract: ${name}`, function () {
    this.timeout(20_000)
    const states = storesPerTest(makeState)

    it('claim: the first handler holds (VIN, nonce), a second is busy; release lets a retry claim it afresh', async () => {
      const s = await states.open()
      expect(await s.claim('VIN1', 'n1')).to.deep.equal({ kind: 'claimed' })
      expect(await s.claim('VIN1', 'n1')).to.deep.equal({ kind: 'busy' })
      expect(await s.claim('VIN1', 'n2')).to.deep.equal({ kind: 'claimed' }) // another nonce
      expect(await s.claim('VIN2', 'n1')).to.deep.equal({ kind: 'claimed' }) // another VIN
      await s.release('VIN1', 'n1')
      expect(await s.claim('VIN1', 'n1')).to.deep.equal({ kind: 'claimed' })
    })

    it('remember: the answer is replayed for that nonce from then on (the claim is gone with it); a release does not forget it', async () => {
      const s = await states.open()
      expect(await s.claim('VIN1', 'n1')).to.deep.equal({ kind: 'claimed' })
      await s.remember('VIN1', 'n1', answer(1))
      expect(await s.claim('VIN1', 'n1')).to.deep.equal({ kind: 'replay', response: answer(1) })
      await s.release('VIN1', 'n1')
      expect(await s.claim('VIN1', 'n1')).to.deep.equal({ kind: 'replay', response: answer(1) })
      expect(await s.claim('VIN2', 'n1')).to.deep.equal({ kind: 'claimed' })
    })

    it('count: one fixed window per VIN and channel, starting over once it ends', async () => {
      const s = await states.open()
      const windowMs = 400
      expect([await s.count('provision', 'VIN1', windowMs), await s.count('provision', 'VIN1', windowMs), await s.count('provision', 'VIN1', windowMs)]).to.deep.equal([1, 2, 3])
      expect(await s.count('rotate', 'VIN1', windowMs)).to.equal(1) // the other channel's own window
      expect(await s.count('provision', 'VIN2', windowMs)).to.equal(1) // another VIN's
      await sleep(windowMs + 150)
      expect(await s.count('provision', 'VIN1', windowMs)).to.equal(1)
    })

    it('claimCounted (where a store has it): claim and count in one step; a busy or answered nonce counts nothing', async function () {
      const s = await states.open()
      if (s.claimCounted === undefined) this.skip()
      const windowMs = 400
      expect(await s.claimCounted('VIN1', 'n1', 'provision', windowMs)).to.deep.equal({ kind: 'claimed', count: 1 })
      expect(await s.claimCounted('VIN1', 'n1', 'provision', windowMs)).to.deep.equal({ kind: 'busy' })
      expect(await s.claim('VIN1', 'n1')).to.deep.equal({ kind: 'busy' }) // the same claim as claim()'s
      await s.remember('VIN1', 'n1', answer(1))
      expect(await s.claimCounted('VIN1', 'n1', 'provision', windowMs)).to.deep.equal({ kind: 'replay', response: answer(1) })
      // the busy and the replayed call counted nothing: the window holds the one claimed
      expect(await s.count('provision', 'VIN1', windowMs)).to.equal(2)
      expect(await s.claimCounted('VIN1', 'n2', 'rotate', windowMs)).to.deep.equal({ kind: 'claimed', count: 1 }) // the other channel's window
      await s.release('VIN1', 'n2')
      expect(await s.claimCounted('VIN1', 'n2', 'rotate', windowMs)).to.deep.equal({ kind: 'claimed', count: 2 }) // released: claimed (and counted) afresh
      await sleep(windowMs + 150)
      expect(await s.claimCounted('VIN1', 'n3', 'provision', windowMs)).to.deep.equal({ kind: 'claimed', count: 1 }) // a new window
    })

    it('retirements: due once their time comes, until cancelled', async () => {
      const s = await states.open()
      await s.scheduleRetirement([], 1000) // nothing to schedule
      await s.scheduleRetirement([{ vin: 'VIN1', fingerprint: 'a' }, { vin: 'VIN1', fingerprint: 'b' }], 5000)
      await s.scheduleRetirement([{ vin: 'VIN2', fingerprint: 'c' }], 9000)
      expect(await s.dueRetirements(4999)).to.deep.equal([])
      const sorted = (list: Array<{ vin: string; fingerprint: string }>) => [...list].sort((x, y) => (x.vin + x.fingerprint).localeCompare(y.vin + y.fingerprint))
      expect(sorted(await s.dueRetirements(5000))).to.deep.equal([{ vin: 'VIN1', fingerprint: 'a' }, { vin: 'VIN1', fingerprint: 'b' }])
      expect(sorted(await s.dueRetirements(5000))).to.have.length(2) // still scheduled
      await s.cancelRetirement([{ vin: 'VIN1', fingerprint: 'a' }, { vin: 'VIN9', fingerprint: 'unknown' }])
      expect(sorted(await s.dueRetirements(10_000))).to.deep.equal([{ vin: 'VIN1', fingerprint: 'b' }, { vin: 'VIN2', fingerprint: 'c' }])
      await s.cancelRetirement([])
    })
  })
}
