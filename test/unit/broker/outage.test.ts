// A store outage: one audit line when the first connect is refused for it and one
// when the store answers again, whatever the number of cars (src/broker/outage.ts);
// PUBLISHes held while the store is unreachable go on, in order, when it is back
// (src/checks/store-stall.ts).
import { expect } from 'chai'
import type { PublishPacket } from 'aedes'
import { AuditSink } from '../../harness/audit-sink.js'
import { OutageAudit, isStoreRefusal } from '../../../src/broker/outage.js'
import { StoreStall } from '../../../src/checks/index.js'
import type { SessionView } from '../../../src/contract/checks.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('store outage: audited once, not once per car', () => {
  it('one store.outage for 1000 refusals, one store.recovered with their count when the store is back', async () => {
    const sink = new AuditSink('debug')
    let up = false
    const outage = new OutageAudit(sink.logger, () => up, 10)
    const firsts = Array.from({ length: 1000 }, (_, i) => outage.refused(i % 2 ? 'revocation_unavailable' : 'session_store_unavailable', 'store down'))
    expect(firsts.filter(Boolean)).to.have.length(1)
    await sleep(50)
    expect(sink.find('store.recovered')).to.have.length(0)
    up = true
    const line = await sink.waitFor('store.recovered')
    expect(line.refused).to.equal(1000)
    expect(sink.find('store.outage')).to.have.length(1)
    // the next outage is a new one
    up = false
    expect(outage.refused('revocation_unavailable', undefined)).to.equal(true)
    outage.stop()
  })

  it('only the reasons that say the store cannot answer', () => {
    expect(isStoreRefusal('revocation_unavailable')).to.equal(true)
    expect(isStoreRefusal('session_store_unavailable')).to.equal(true)
    expect(isStoreRefusal('revoked')).to.equal(false)
    expect(isStoreRefusal('client_id_mismatch')).to.equal(false)
  })
})

describe('store stall: PUBLISHes held while the store is unreachable', () => {
  const session = {} as SessionView
  const packet = { topic: 't', qos: 1 } as PublishPacket

  it('passes at once while reachable, holds while not, lets the held go in order when back', async () => {
    let up = true
    const stall = new StoreStall(() => up, 10)
    expect(stall.check(session, packet)).to.deep.equal({ ok: true })
    up = false
    const order: number[] = []
    const held = [1, 2, 3].map((i) => Promise.resolve(stall.check(session, packet)).then((r) => { order.push(i); return r }))
    await sleep(50)
    expect(order).to.deep.equal([])
    expect(stall.held).to.equal(3)
    up = true
    expect((await Promise.all(held)).every((r) => r.ok)).to.equal(true)
    expect(order).to.deep.equal([1, 2, 3])
    stall.stop()
  })
})
