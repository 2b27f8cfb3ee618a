// The session registry finds every live session of a certificate (a revocation
// ends them all). One session per certificate is held without a Set.
import { expect } from 'chai'
import type { Client } from 'aedes'
import { SessionRegistry, type Session } from '../../../src/broker/session.js'

const client = (id: string) => ({ id }) as unknown as Client
const session = (fingerprint: string) => ({ identity: { fingerprint } }) as unknown as Session

describe('session registry', () => {
  it('finds one, two, then one and no sessions of a certificate as they come and go', () => {
    const r = new SessionRegistry()
    const a = client('svc-a'); const b = client('svc-b'); const c = client('car')
    r.set(a, session('fp1'))
    r.set(c, session('fp2'))
    expect(r.byFingerprint('fp1')).to.deep.equal([a])
    r.set(b, session('fp1'))
    expect(r.byFingerprint('fp1')).to.have.members([a, b]).and.have.length(2)
    r.set(b, session('fp1')) // the same client again: still two
    expect(r.byFingerprint('fp1')).to.have.length(2)
    r.delete(a)
    expect(r.byFingerprint('fp1')).to.deep.equal([b])
    r.set(a, session('fp1'))
    expect(r.byFingerprint('fp1')).to.have.members([a, b])
    r.delete(a); r.delete(b)
    expect(r.byFingerprint('fp1')).to.deep.equal([])
    expect(r.byFingerprint('fp2')).to.deep.equal([c])
    expect(r.size).to.equal(1)
    r.delete(c)
    expect(r.byFingerprint('fp2')).to.deep.equal([])
    expect(r.live()).to.deep.equal([])
    r.delete(c) // twice: harmless
    expect(r.size).to.equal(0)
  })
})
