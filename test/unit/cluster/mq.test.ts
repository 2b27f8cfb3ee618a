// Issue 15 item 4: mqemitter's released -> _do chain. A queued message that no
// listener matches finishes synchronously, and each finished message starts
// the next queued one on the same stack: a few thousand overflow it.
import { expect } from 'chai'
import { createRequire } from 'node:module'
import { Aedes } from 'aedes'
import { createMq, makeMqSafe, MQ_OPTIONS, type BrokerMq } from '../../../src/cluster/mq.js'

const require = createRequire(import.meta.url)
type Emitter = BrokerMq & { on (topic: string, fn: (packet: { topic: string; n: number }, done: () => void) => void): unknown }
const mqemitter = require('mqemitter') as (opts: object) => Emitter

/** more than the 3,000 that overflow Node 20's default stack; Node 24's is no deeper */
const UNMATCHED = 10_000
const HELD = 150

/**
 * HELD messages a listener holds (more than Aedes' 100 slots), then UNMATCHED
 * that match no listener, then HELD more on a listener that answers at once;
 * finally the held ones are released. Returns what each listener saw and the
 * order the emit callbacks ran in.
 */
function drive (mq: Emitter): { error: unknown; held: number[]; late: number[]; callbacks: number } {
  const held: number[] = []
  const late: number[] = []
  const pending: Array<() => void> = []
  let callbacks = 0
  mq.on('held/+', (p, done) => { held.push(p.n); pending.push(done) })
  mq.on('late/+', (p, done) => { late.push(p.n); done() })
  let n = 0
  try {
    for (let i = 0; i < HELD; i++) mq.emit({ topic: `held/${i}`, n: n++ } as { topic: string }, () => { callbacks++ })
    for (let i = 0; i < UNMATCHED; i++) mq.emit({ topic: `nobody/${i}`, n: n++ } as { topic: string }, () => { callbacks++ })
    for (let i = 0; i < HELD; i++) mq.emit({ topic: `late/${i}`, n: n++ } as { topic: string }, () => { callbacks++ })
    for (const done of pending.splice(0)) done()
    for (const done of pending.splice(0)) done()
  } catch (error) {
    return { error, held, late, callbacks }
  }
  return { error: null, held, late, callbacks }
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i)

describe('broker emitter (src/cluster/mq.ts)', () => {
  it('bare mqemitter as Aedes builds it (concurrency 100): unmatched queued messages overflow the stack', () => {
    const r = drive(mqemitter({ concurrency: 100, matchEmptyLevels: true }))
    expect(r.error).to.be.instanceOf(RangeError)
    expect(r.callbacks).to.be.below(HELD * 2 + UNMATCHED)
  })

  it("fleetgate's emitter: no RangeError, every message delivered once and in order, every callback run", () => {
    const r = drive(createMq() as Emitter)
    expect(r.error).to.equal(null)
    expect(r.held).to.deep.equal(range(0, HELD))
    expect(r.late).to.deep.equal(range(HELD + UNMATCHED, HELD))
    expect(r.callbacks).to.equal(HELD * 2 + UNMATCHED)
  })

  it('the options both modes build their emitter with', () => {
    expect(MQ_OPTIONS).to.deep.equal({ concurrency: 0, matchEmptyLevels: true })
    expect(createMq().concurrency).to.equal(0)
  })

  it("makeMqSafe (attach) fixes the emitter of an Aedes a library user built with Aedes' defaults", async () => {
    const broker = new Aedes()
    const mq = (broker as unknown as { mq: Emitter }).mq
    expect(mq.concurrency).to.equal(100)
    expect(makeMqSafe(mq)).to.equal(true)
    expect(makeMqSafe(mq)).to.equal(false)
    const r = drive(mq)
    expect(r.error).to.equal(null)
    expect(r.callbacks).to.equal(HELD * 2 + UNMATCHED)
  })
})
