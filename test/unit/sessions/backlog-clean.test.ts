// A clean session's CONNECT (sessions/backlog.ts, stream): no reader, the queue a
// previous session left is discarded; a client already closed (taken over within its
// own CONNECT) discards nothing, the queue being its successor's; a persistent
// session still gets its queue. Over the embedded store's real queues.
import { expect } from 'chai'
import { BacklogDelivery, type DeliveringClient } from '../../../src/sessions/backlog.js'
import { MemoryQueues } from '../../../src/sessions/memory-queues.js'

function setup (): { queues: MemoryQueues; backlog: BacklogDelivery } {
  const queues = new MemoryQueues(0)
  const backlog = new BacklogDelivery({
    head: async (id, count) => queues.head(id, count),
    packets: async (id, keys) => queues.packets(id, keys),
    discard: (id) => { queues.drop(id) },
  })
  for (let i = 1; i <= 3; i++) queues.enqueue('car-1', { cmd: 'publish', topic: 't', payload: Buffer.from(String(i)), qos: 1, retain: false, brokerId: 'b', brokerCounter: i } as never)
  return { queues, backlog }
}
const client = (over: Partial<DeliveringClient>): DeliveringClient => ({ id: 'car-1', clean: true, closed: false, deliverQoS: () => {}, ...over })
async function read (it: AsyncIterable<unknown>): Promise<unknown[]> { const out = []; for await (const p of it) out.push(p); return out }

describe('sessions: the backlog of a clean session', () => {
  it('a clean CONNECT reads nothing and discards the queue left by a previous session', async () => {
    const { queues, backlog } = setup()
    expect(await read(backlog.stream(client({ clean: true })))).to.deep.equal([])
    expect(queues.length('car-1')).to.equal(0)
  })

  it('a clean client closed before its queue step (taken over) discards nothing', async () => {
    const { queues, backlog } = setup()
    expect(await read(backlog.stream(client({ clean: true, closed: true })))).to.deep.equal([])
    expect(queues.length('car-1')).to.equal(3)
  })

  it('a persistent session reads its whole queue, in order', async () => {
    const { queues, backlog } = setup()
    const got = await read(backlog.stream(client({ clean: false }))) as Array<{ payload: Buffer }>
    expect(got.map((p) => p.payload.toString())).to.deep.equal(['1', '2', '3'])
    expect(queues.length('car-1')).to.equal(3) // removed when acknowledged, not when sent
  })
})
