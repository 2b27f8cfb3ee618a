import { expect } from 'chai'
import type { Identity } from '../../../src/identity/index.js'
import { queryOf, targetsOf, identityMatches, CleanCache } from '../../../src/revocation/index.js'

const leaf = 'aa'.repeat(32); const issuing = 'bb'.repeat(32); const root = 'cc'.repeat(32)
const identity = {
  subject: { CN: ['1HGCM82633A004352'], OU: ['vehicle'] }, serial: '1f', fingerprint: leaf, issuerFingerprint: issuing,
  chain: [{ fingerprint: issuing, serial: '2a', issuerFingerprint: root, subject: {} }, { fingerprint: root, serial: '1', issuerFingerprint: null, subject: {} }],
} as unknown as Identity

describe('revocation query', () => {
  it('asks for the leaf and every CA, by fingerprint and by issuer + serial', () => {
    expect(targetsOf(identity)).to.deep.equal([
      { fingerprint: leaf }, { issuer: issuing, serial: '1f' }, { fingerprint: issuing }, { issuer: root, serial: '2a' }, { fingerprint: root }])
  })
  it('reads a vehicle\'s registry record in the same trip; not for other roles', () => {
    expect(queryOf(identity).registry).to.deep.equal({ vin: '1HGCM82633A004352', fingerprint: leaf })
    expect(queryOf({ ...identity, subject: { CN: ['fleet-backend'], OU: ['fleet-backend'] } } as Identity).registry).to.equal(undefined)
  })
  it('a revoked CA matches every identity under it', () => {
    expect(identityMatches(identity, { fingerprint: issuing })).to.equal(true)
    expect(identityMatches(identity, { issuer: root, serial: '2a' })).to.equal(true)
    expect(identityMatches(identity, { issuer: root, serial: '2b' })).to.equal(false)
  })
})

describe('clean-answer cache', () => {
  it('expires after the TTL and is cleared by any revocation event', () => {
    let t = 0
    const c = new CleanCache(1000, 10, () => t)
    c.put(leaf, c.generation)
    expect(c.isClean(leaf)).to.equal(true)
    t = 1001
    expect(c.isClean(leaf)).to.equal(false)
    c.put(leaf, c.generation)
    c.invalidate()
    expect(c.isClean(leaf)).to.equal(false)
  })
  it('drops an answer from a lookup that raced an event', () => {
    const c = new CleanCache(1000)
    const g = c.generation
    c.invalidate()
    c.put(leaf, g)
    expect(c.isClean(leaf)).to.equal(false)
  })
})
