import { expect } from 'chai'
import { parseChunk, encodeRevoked, encodeRegistryLine } from '../../../src/revocation/file-log.js'

const FP = 'cd'.repeat(32)
const rev = encodeRevoked({ fingerprint: FP, reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00Z' })

describe('embedded store file format', () => {
  it('round-trips revocations and registry records', () => {
    const text = rev + encodeRevoked({ issuer: FP, serial: '0ABC', reason: 'superseded', revokedAt: 't' }) + encodeRegistryLine('VIN', FP, { serial: '1', notAfter: 'a', issuedAt: 'b', state: 'active' }, true)
    const c = parseChunk(text)
    expect(c.corrupt).to.equal(null)
    expect(c.records).to.have.length(3)
    expect(c.records[1]).to.deep.equal({ t: 'rev', record: { issuer: FP, serial: 'abc', reason: 'superseded', revokedAt: 't' } })
    expect(c.records[2]).to.include({ t: 'reg', vin: 'VIN', firstConnect: true })
  })
  it('keeps an incomplete last line as the rest (a write in progress)', () => {
    const c = parseChunk(rev + '{"t":"rev","fi')
    expect(c.records).to.have.length(1)
    expect(c.rest).to.equal('{"t":"rev","fi')
  })
  it('skips a torn record, and keeps a record glued onto one', () => {
    const c = parseChunk('{"t":"rev","fing\n' + '{"t":"rev","fi' + rev)
    expect(c.corrupt).to.equal(null)
    expect(c.torn).to.deep.equal([1, 2])
    expect(c.records).to.have.length(1)
  })
  it('reports anything else as corrupt, with its line', () => {
    expect(parseChunk(rev + 'hello\n').corrupt).to.deep.equal({ line: 2, problem: 'not JSON' })
    expect(parseChunk('{"t":"rev","fingerprint":"zz","reason":"r","revokedAt":"t"}\n').corrupt?.problem).to.equal('bad fingerprint')
    expect(parseChunk('{"t":"what"}\n').corrupt?.problem).to.equal('unknown record type')
  })
})
