import { expect } from 'chai'
import { makeGrant } from '../../../src/policy/grant.js'

// Defence in depth: parsePolicy never lets such rules through, so test the grant directly.
describe('policy: grant guards independent of the rules', () => {
  it('canPublish refuses a $ topic even if a rule names it literally', () => {
    const g = makeGrant('r', [['$SYS', 'x'], ['a']], [])
    expect(g.canPublish('$SYS/x')).to.equal(false)
    expect(g.canPublish('a')).to.equal(true)
  })

  it('canSubscribe refuses $share even if a rule names it literally', () => {
    const g = makeGrant('r', [], [['$share', 'g', '#'], ['a']])
    expect(g.canSubscribe('$share/g/a')).to.equal(false)
    expect(g.canSubscribe('a')).to.equal(true)
  })

  it('canReceive refuses an invalid topic name even where a rule would match', () => {
    const g = makeGrant('r', [], [['a', '+']])
    expect(g.canReceive('a/+')).to.equal(false)
    expect(g.canReceive('a/b')).to.equal(true)
  })
})
