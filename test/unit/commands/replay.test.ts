import { expect } from 'chai'
import { ReplayCache } from '../../../src/commands/index.js'

describe('commands/ReplayCache', () => {
  it('remembers a jti until its expiry, then forgets it', () => {
    const r = new ReplayCache(10)
    expect(r.checkAndAdd('a', 1000, 0)).to.equal('fresh')
    expect(r.checkAndAdd('a', 1000, 999)).to.equal('replayed')
    expect(r.checkAndAdd('a', 3000, 1001)).to.equal('fresh')
  })

  it('is bounded: expired entries are dropped on insert, and when full of live ones it refuses (fail closed)', () => {
    const r = new ReplayCache(3)
    for (const j of ['a', 'b', 'c']) expect(r.checkAndAdd(j, 100, 0)).to.equal('fresh')
    expect(r.checkAndAdd('d', 200, 50)).to.equal('full')
    expect(r.size).to.equal(3)
    expect(r.checkAndAdd('d', 200, 101)).to.equal('fresh')
    expect(r.size).to.equal(1)
  })

  it('prunes expired entries behind a long-lived head when full', () => {
    const r = new ReplayCache(3)
    r.checkAndAdd('long', 1000, 0)
    r.checkAndAdd('s1', 10, 0)
    r.checkAndAdd('s2', 10, 0)
    expect(r.checkAndAdd('n', 500, 20)).to.equal('fresh')
    expect(r.size).to.equal(2)
  })
})
