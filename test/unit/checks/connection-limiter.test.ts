import { expect } from 'chai'
import { ConnectionLimiter } from '../../../src/checks/index.js'

describe('guard: ConnectionLimiter', () => {
  it('counts per address and forgets an address at zero', () => {
    const l = new ConnectionLimiter(2)
    expect(l.acquire('10.0.0.1')).to.equal(1)
    expect(l.acquire('10.0.0.1')).to.equal(2)
    expect(l.acquire('10.0.0.1')).to.equal(3)
    expect(l.acquire('10.0.0.2')).to.equal(1)
    l.release('10.0.0.1'); l.release('10.0.0.1'); l.release('10.0.0.1')
    expect(l.count('10.0.0.1')).to.equal(0)
    expect(l.addresses).to.equal(1)
  })
})
