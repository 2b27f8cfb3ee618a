// The session backend contract (src/sessions/types.ts SessionBackend), run
// against every implementation: describeSessionBackend(name, makeBackend) per
// store. Each backend runs under a real Aedes broker (its persistence is the
// backend's), driven through the persistence calls Aedes makes.
import { expect } from 'chai'
import type { Aedes } from 'aedes'
import type { SessionBackend, StoreDeps } from '../../src/sessions/index.js'

export interface BackendUnderTest {
  readonly backend: SessionBackend
  readonly broker: Aedes
  close (): Promise<void>
}

export type MakeBackend = (deps: StoreDeps) => Promise<BackendUnderTest>

interface Persistence {
  addSubscriptions (client: { id: string }, subs: Array<{ topic: string; qos: number }>): Promise<unknown>
  subscriptionsByClient (client: { id: string }): Promise<Array<{ topic: string }> | null>
  outgoingEnqueueCombi (subs: Array<{ clientId: string }>, packet: object): Promise<void>
  outgoingStream (client: object): AsyncIterable<{ payload: Buffer | string }>
}

export function describeSessionBackend (name: string, makeBackend: MakeBackend): void {
  describe(`session backend contract: ${name}`, function () {
    this.timeout(20_000)
    let under: BackendUnderTest
    let overflows: Array<[string, number, boolean]>
    let counter = 0
    const MAX = 3
    beforeEach(async () => {
      overflows = []
      under = await makeBackend({ maxOfflineMessages: MAX, overflowed: (clientId, dropped, first) => overflows.push([clientId, dropped, first]) })
    })
    afterEach(async () => { await under.close() })

    const persistence = () => under.backend.persistence as unknown as Persistence
    const packet = (n: number) => ({
      cmd: 'publish', topic: 'vehicles/X/telemetry/speed', payload: Buffer.from(String(n)), qos: 1, retain: false, dup: false,
      brokerId: under.broker.id, brokerCounter: ++counter,
    })
    const enqueue = async (clientId: string, ...ns: number[]) => { for (const n of ns) await persistence().outgoingEnqueueCombi([{ clientId }], packet(n)) }
    /** the queue as a reconnecting session gets it */
    const queued = async (clientId: string) => {
      const out: string[] = []
      for await (const p of persistence().outgoingStream({ id: clientId, clean: false, closed: false, deliverQoS () {} })) out.push(Buffer.from(p.payload).toString())
      return out
    }

    it('a queue holds what was enqueued, in order', async () => {
      await enqueue('c1', 1, 2)
      expect(await under.backend.queueLength('c1')).to.equal(2)
      expect(await queued('c1')).to.deep.equal(['1', '2'])
      expect(await under.backend.queueLength('nobody')).to.equal(0)
    })

    it('the bound: past maxOfflineMessages the oldest entries are dropped, reported once per overflow episode until resumed()', async () => {
      await enqueue('c1', 1, 2, 3, 4, 5)
      expect(await under.backend.queueLength('c1')).to.equal(MAX)
      expect(await queued('c1')).to.deep.equal(['3', '4', '5'])
      expect(overflows.reduce((n, [, dropped]) => n + dropped, 0)).to.equal(2)
      expect(overflows.map(([id, , first]) => [id, first])).to.deep.equal([['c1', true], ['c1', false]])
      await under.backend.resumed('c1')
      await enqueue('c1', 6)
      expect(overflows.at(-1)).to.deep.equal(['c1', 1, true])
    })

    it('one packet for several sessions: each queue holds it, and one session going leaves the others\' copy', async () => {
      await persistence().outgoingEnqueueCombi([{ clientId: 'm1' }, { clientId: 'm2' }, { clientId: 'm3' }], packet(7))
      await persistence().outgoingEnqueueCombi([{ clientId: 'm2' }], packet(8))
      expect([await under.backend.queueLength('m1'), await under.backend.queueLength('m2'), await under.backend.queueLength('m3')]).to.deep.equal([1, 2, 1])
      await under.backend.expire('m1')
      expect(await queued('m2')).to.deep.equal(['7', '8'])
      expect(await queued('m3')).to.deep.equal(['7'])
      await persistence().outgoingEnqueueCombi([], packet(9)) // no session: nothing stored
      expect(await queued('m3')).to.deep.equal(['7'])
    })

    it('expire: the session goes, queue and subscriptions', async () => {
      await persistence().addSubscriptions({ id: 'c2' }, [{ topic: 'vehicles/+/telemetry/+', qos: 1 }])
      await enqueue('c2', 1, 2)
      await under.backend.expire('c2')
      expect(await under.backend.queueLength('c2')).to.equal(0)
      expect((await persistence().subscriptionsByClient({ id: 'c2' })) ?? []).to.deep.equal([])
      expect(await queued('c2')).to.deep.equal([])
    })

    it('clock: sessions last seen at or before the cutoff are claimed once, at most `limit` at a time', async () => {
      const { clock } = under.backend
      await clock.touch(['a', 'b'], 1000)
      await clock.touch(['c'], 5000)
      expect((await clock.claimExpired(2000, 10)).sort()).to.deep.equal(['a', 'b'])
      expect(await clock.claimExpired(2000, 10)).to.deep.equal([])
      await clock.touch(['d'], 5000)
      const first = await clock.claimExpired(6000, 1)
      expect(first).to.have.length(1)
      expect([...first, ...await clock.claimExpired(6000, 10)].sort()).to.deep.equal(['c', 'd'])
    })

    it('clock: discover starts the clock of sessions the store holds and the clock does not know (subscriptions, or a queue alone)', async () => {
      const { clock } = under.backend
      await persistence().addSubscriptions({ id: 's1' }, [{ topic: 'vehicles/+/telemetry/+', qos: 1 }])
      await enqueue('q1', 1)
      await clock.touch(['known'], 100)
      await persistence().addSubscriptions({ id: 'known' }, [{ topic: 'vehicles/+/telemetry/+', qos: 1 }])
      await clock.discover(3000)
      expect(await clock.claimExpired(200, 10)).to.deep.equal(['known']) // kept its own time
      expect((await clock.claimExpired(3000, 10)).sort()).to.deep.equal(['q1', 's1'])
    })
  })
}
