import { expect } from 'chai'
import { ConnectRate } from '../../../src/checks/index.js'

describe('ConnectRate (--max-connect-rate): a token bucket of one second', () => {
  it('admits a burst of the rate, then the rate, never more', () => {
    const r = new ConnectRate(10, 0)
    let admitted = 0
    for (let i = 0; i < 50; i++) if (r.take(0)) admitted++
    expect(admitted).to.equal(10)
    // 100 ms later: one more token
    expect(r.take(100)).to.equal(true)
    expect(r.take(100)).to.equal(false)
    // over 5 s at 1 attempt per ms: 5 s x 10/s admitted
    let later = 0
    for (let t = 101; t <= 5100; t++) if (r.take(t)) later++
    expect(later).to.be.within(49, 50)
  })

  it('holds no more than one second of tokens after a quiet hour, and ignores a clock going back', () => {
    const r = new ConnectRate(3, 0)
    let n = 0
    for (let i = 0; i < 10; i++) if (r.take(3_600_000)) n++
    expect(n).to.equal(3)
    expect(r.take(1000)).to.equal(false)
  })

  it('after the clock went back an hour, refills at the rate from there (security review 2: never an hour of refusals)', () => {
    const r = new ConnectRate(2, 3_600_000)
    expect(r.take(3_600_000) && r.take(3_600_000)).to.equal(true)
    expect(r.take(0), 'the clock stepped back: no token yet').to.equal(false)
    expect(r.take(500), 'half a second later: one token').to.equal(true)
    expect(r.take(1000), 'and the next').to.equal(true)
  })
})
