// The expiry buckets and guard on a manual clock: one timer for the earliest
// bucket (re-armed past setTimeout's ~24.8 day limit), O(1) removal, memory
// bounded under churn, the first notAfter of the leaf and its CAs, cert.expiring.
// Real certificates of the in-memory test PKI, no socket.
import { expect } from 'chai'
import { ExpiryBuckets, ExpiryGuard, MAX_TIMER_MS, firstExpiryOf, type ExpiryClock } from '../../../src/checks/index.js'
import type { LiveSessions, SessionEnd } from '../../../src/contract/index.js'
import type { Identity } from '../../../src/identity/index.js'
import { createIntermediateCa, issueLeaf, DAY_MS } from '../../../src/pki/index.js'
import { AuditSink } from '../../harness/audit-sink.js'
import { fixtures } from '../commands/fixtures.js'
import { identityOf } from './identities.js'

class ManualClock implements ExpiryClock {
  t = Date.UTC(2030, 0, 1)
  timers: Array<{ at: number; fn: () => void; id: number }> = []
  #ids = 0
  /** delays asked of setTimer, in order */
  readonly delays: number[] = []
  now = () => this.t
  setTimer = (fn: () => void, ms: number) => { this.delays.push(ms); const id = ++this.#ids; this.timers.push({ at: this.t + ms, fn, id }); return id }
  clearTimer = (id: unknown) => { this.timers = this.timers.filter((t) => t.id !== id) }
  /** move to `to`, firing due timers in order */
  advance (to: number): void {
    for (;;) {
      const due = this.timers.filter((t) => t.at <= to).sort((a, b) => a.at - b.at)[0]
      if (!due) break
      this.timers = this.timers.filter((t) => t !== due)
      this.t = due.at
      due.fn()
    }
    this.t = to
  }
}

describe('checks/ExpiryBuckets: sessions by expiry second, one timer', () => {
  it('arms one timer for the earliest bucket and hands each bucket over just after its second', () => {
    const clock = new ManualClock()
    const fired: Array<[string[], number]> = []
    const b = new ExpiryBuckets<string>((h, s) => fired.push([h.sort(), s]), clock)
    const t0 = clock.t
    b.add('late', t0 + 10_000)
    b.add('a', t0 + 5_000)
    b.add('b', t0 + 5_400) // same second as a
    expect(clock.timers).to.have.length(1)
    expect(b.armedFor).to.equal((t0 + 5_000) / 1000)
    clock.advance(t0 + 5_999)
    expect(fired).to.deep.equal([])
    clock.advance(t0 + 6_000)
    expect(fired).to.deep.equal([[['a', 'b'], (t0 + 5_000) / 1000]])
    expect(clock.timers).to.have.length(1)
    b.delete('late')
    clock.advance(t0 + 60_000)
    expect(fired).to.have.length(1)
    expect(b.size).to.equal(0)
  })

  it('re-arms a far expiry in steps of at most MAX_TIMER_MS (setTimeout\'s limit)', () => {
    const clock = new ManualClock()
    const fired: string[] = []
    const b = new ExpiryBuckets<string>((h) => fired.push(...h), clock)
    const at = clock.t + 60 * DAY_MS
    b.add('car', at)
    expect(clock.delays[0]).to.equal(MAX_TIMER_MS)
    clock.advance(clock.t + MAX_TIMER_MS)
    expect(fired).to.deep.equal([])
    expect(clock.timers).to.have.length(1)
    clock.advance(at + 1000)
    expect(fired).to.deep.equal(['car'])
    expect(clock.delays.every((d) => d <= MAX_TIMER_MS)).to.equal(true)
  })

  it('an earlier session re-arms the timer; a moved handle leaves its old bucket', () => {
    const clock = new ManualClock()
    const fired: string[] = []
    const b = new ExpiryBuckets<string>((h) => fired.push(...h), clock)
    b.add('x', clock.t + 100_000)
    b.add('y', clock.t + 2_000)
    expect(b.armedFor).to.equal(Math.floor((clock.t + 2_000) / 1000))
    b.add('y', clock.t + 200_000) // moved
    clock.advance(clock.t + 150_000)
    expect(fired).to.deep.equal(['x'])
  })

  it('memory stays bounded under connect/disconnect churn (each connect a new expiry second)', () => {
    const clock = new ManualClock()
    const b = new ExpiryBuckets<number>(() => {}, clock)
    for (let i = 0; i < 1000; i++) b.add(i, clock.t + 86_400_000 + i * 1000) // 1000 live sessions
    for (let i = 0; i < 200_000; i++) {
      const h = 1_000_000 + i
      b.add(h, clock.t + 3 * 86_400_000 + i * 1000)
      b.delete(h)
    }
    expect(b.size).to.equal(1000)
    expect(b.buckets).to.equal(1000)
    expect(b.heapSize).to.be.at.most(2 * 1000 + 1025)
  })
})

describe('checks/ExpiryGuard: ends expired sessions, warns at connect', function () {
  this.timeout(20_000)

  function sessionsOf (identities: Map<string, Identity>, ended: Array<[string, SessionEnd]>): LiveSessions<string> {
    return {
      get: (h) => identities.has(h) ? { identity: identities.get(h)! } : undefined,
      candidatesFor: () => [],
      byFingerprint: () => [],
      live: () => [...identities.keys()],
      end: (h, e) => { ended.push([h, e]); identities.delete(h); return true },
    }
  }

  it('takes the first notAfter of the chain: an intermediate CA that expires before the leaf', async () => {
    const f = await fixtures()
    const soonCa = await createIntermediateCa(f.root, 'issuing', { notAfter: new Date(Date.now() + 3 * DAY_MS) })
    const leaf = await issueLeaf(soonCa, 'vehicle', '1FTFW1E50PFA00009', { notAfter: new Date(Date.now() + 300 * DAY_MS) })
    const id = identityOf(leaf, soonCa, f.root)
    const first = firstExpiryOf(id)
    expect(first.which).to.equal('ca')
    expect(first.at).to.equal(id.chain[0]!.notAfter!.getTime())
    expect(firstExpiryOf(identityOf(f.vehicle, f.issuing, f.root)).which).to.equal('leaf')

    const clock = new ManualClock()
    clock.t = Date.now()
    const sink = new AuditSink('debug')
    const ended: Array<[string, SessionEnd]> = []
    const identities = new Map([['car', id], ['other', identityOf(f.vehicle, f.issuing, f.root)]])
    let counted = 0
    const guard = new ExpiryGuard({ sessions: sessionsOf(identities, ended), log: sink.logger, warningMs: 14 * DAY_MS, clock, onExpiring: () => counted++ })
    guard.track('car', id)
    guard.track('other', identities.get('other')!)
    const warn = sink.find('cert.expiring')
    expect(warn).to.have.length(1)
    expect(warn[0]!.which).to.equal('ca')
    expect(warn[0]!.daysLeft).to.be.oneOf([2, 3])
    expect(counted).to.equal(1)
    clock.advance(first.at + 1000)
    expect(ended.map(([h, e]) => [h, e.evt, e.reason])).to.deep.equal([['car', 'expiry.kick', 'cert_expired']])
    expect((ended[0]![1].audit as { which: string }).which).to.equal('ca')
    guard.stop()
    expect(clock.timers).to.deep.equal([])
  })

  it('--expiry-warning 0 audits nothing', async () => {
    const f = await fixtures()
    const id = identityOf(await issueLeaf(f.issuing, 'vehicle', '1FTFW1E50PFA00010', { notAfter: new Date(Date.now() + DAY_MS) }), f.issuing, f.root)
    const sink = new AuditSink('debug')
    const guard = new ExpiryGuard({ sessions: sessionsOf(new Map(), []), log: sink.logger, warningMs: 0, clock: new ManualClock() })
    guard.track('car', id)
    expect(sink.find('cert.expiring')).to.deep.equal([])
    guard.stop()
  })
})
