import { expect } from 'chai'
import { parseChunk, encodeRevoked, encodeRegistryLine } from '../../../src/revocation/file-log.js'

const FP = 'cd'.repeat(32)
const rev = encodeRevoked({ fingerprint: FP, reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00Z' })

describe('embedded store file format', () => {
  it('round-trips revocations and registry records', () => {
    const text = rev + encodeRevoked({ issuer: FP, serial: '0ABC', reason: 'superseded', revokedAt: 't' }) + encodeRegistryLine('VIN', FP, { serial: '1', notAfter: 'a', issuedAt: 'b', state: 'active' }, true)
    const c = parseChunk(text)
    expect(c.corrupt).to.deep.equal([])
    expect(c.records).to.have.length(3)
    expect(c.records[1]).to.deep.equal({ t: 'rev', record: { issuer: FP, serial: 'abc', reason: 'superseded', revokedAt: 't' } })
    expect(c.records[2]).to.include({ t: 'reg', vin: 'VIN', firstConnect: true })
  })
  it('keeps an incomplete last line for the next read (a write in progress)', () => {
    const c = parseChunk(rev + '{"t":"rev","fi')
    expect(c.records).to.have.length(1)
    expect(c.consumed).to.equal(rev.length)
  })
  it('skips a torn record, and keeps a record glued onto one', () => {
    const c = parseChunk('{"t":"rev","fing\n' + '{"t":"rev","fi' + rev)
    expect(c.corrupt).to.deep.equal([])
    expect(c.torn).to.deep.equal([0, 17])
    expect(c.records).to.have.length(1)
  })
  it('a torn line in the middle (a full disk took 5 bytes, the retry closed it off): every record after it is read, its byte offset reported', () => {
    const FP2 = 'ef'.repeat(32)
    const rev2 = encodeRevoked({ fingerprint: FP2, reason: 'keyCompromise', revokedAt: '2026-01-02T00:00:00Z' })
    const reg = encodeRegistryLine('VIN', FP2, { serial: '2', notAfter: 'a', issuedAt: 'b', state: 'superseded' })
    for (const torn of ['{', '{"t', '{"t":', '{"t":"re', '{"t":"rev","fingerprint":"ab']) {
      const c = parseChunk(rev + torn + '\n' + rev2 + reg, 1000)
      expect(c.corrupt, torn).to.deep.equal([])
      expect(c.torn, torn).to.deep.equal([1000 + rev.length])
      expect(c.records.map((r) => r.t === 'rev' && 'fingerprint' in r.record ? r.record.fingerprint : r.t), torn).to.deep.equal([FP, FP2, 'reg'])
      expect(c.consumed).to.equal(Buffer.byteLength(rev + torn + '\n' + rev2 + reg))
    }
    // glued without a newline (another writer's handle did not see the torn bytes)
    const g = parseChunk('{"t":' + rev2)
    expect(g.torn).to.deep.equal([0])
    expect(g.records).to.have.length(1)
  })
  it('reports anything else as corrupt, with its byte offset, and still reads the records after it', () => {
    expect(parseChunk(rev + 'hello\n' + rev)).to.deep.include({ corrupt: [{ offset: rev.length, problem: 'not JSON' }] })
    expect(parseChunk(rev + 'hello\n' + rev).records).to.have.length(2)
    expect(parseChunk('{"t":"rev","fingerprint":"zz","reason":"r","revokedAt":"t"}\n').corrupt[0]?.problem).to.equal('bad fingerprint')
    expect(parseChunk('{"t":"what"}\n').corrupt[0]?.problem).to.equal('unknown record type')
    expect(parseChunk('{"t":"rev"}\n').corrupt[0]?.problem).to.equal('revocation without reason/revokedAt') // parses: not torn
  })
})
