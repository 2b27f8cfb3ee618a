import { expect } from 'chai'
import { decodeAnnouncement, encodeAnnouncement, keysFor, normaliseFingerprint, serialSpellings, decodeEntry, decodeRegistry } from '../../../src/revocation/index.js'

const FP = 'ab'.repeat(32)

describe('revocation schema (README "Redis schema")', () => {
  it('names the keys and channels with the prefix', () => {
    const k = keysFor()
    expect([k.cert, k.serial(FP), k.registry('VIN'), k.revocations, k.certificates]).to.deep.equal([
      'fleetgate:revoked:cert', `fleetgate:revoked:serial:${FP}`, 'fleetgate:certs:VIN', 'fleetgate:revocations', 'fleetgate:certificates'])
    expect(keysFor('x:').cert).to.equal('x:revoked:cert')
    // the provisioner's state beside them
    expect([k.nonces('VIN'), k.claim('VIN', 'n-1'), k.rateLimit('provision', 'VIN'), k.rateLimit('rotate', 'VIN'), k.retire]).to.deep.equal([
      'fleetgate:nonces:VIN', 'fleetgate:claim:VIN:n-1', 'fleetgate:ratelimit:provision:VIN', 'fleetgate:ratelimit:rotate:VIN', 'fleetgate:retire'])
    expect(keysFor('x:').retire).to.equal('x:retire')
  })
  it('reads announcements, normalising what external writers send', () => {
    expect(decodeAnnouncement(JSON.stringify({ fingerprint: FP.toUpperCase() }))).to.deep.equal({ fingerprint: FP })
    expect(decodeAnnouncement(JSON.stringify({ issuer: FP, serial: '0A:BC' }))).to.deep.equal({ issuer: FP, serial: 'abc' })
    expect(decodeAnnouncement(JSON.stringify({ issuer: FP, serial: '0x0001' }))).to.deep.equal({ issuer: FP, serial: '1' })
    for (const bad of ['nope', '{}', '{"fingerprint":"12"}', '{"issuer":"x","serial":"1"}', 'null']) expect(decodeAnnouncement(bad), bad).to.equal(null)
    expect(JSON.parse(encodeAnnouncement({ issuer: FP, serial: 'abc' }))).to.deep.equal({ issuer: FP, serial: 'abc' })
  })
  it('fingerprints: lowercase 64 hex; openssl colon form accepted', () => {
    expect(normaliseFingerprint(FP.toUpperCase().match(/../g)!.join(':'))).to.equal(FP)
    expect(normaliseFingerprint('ab')).to.equal(null)
  })
  it('serial spellings: the contract form and openssl\'s padded upper case', () => {
    expect(serialSpellings('abc')).to.deep.equal(['abc', '0ABC'])
    expect(serialSpellings('1')).to.deep.equal(['1', '01'])
    expect(serialSpellings('12')).to.deep.equal(['12'])
  })
  it('an unreadable stored value still means revoked (fail closed)', () => {
    expect(decodeEntry('garbage')).to.deep.equal({ reason: 'unspecified', revokedAt: '' })
    expect(decodeRegistry('{"state":"weird"}')).to.equal(null)
  })
})
