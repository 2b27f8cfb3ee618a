import { expect } from 'chai'
import { isSafeIdentityValue, isVin } from '../../../src/policy/index.js'

describe('policy: isVin and isSafeIdentityValue', () => {
  it('isVin accepts 17 characters of A-HJ-NPR-Z0-9', () => {
    expect(isVin('WVWZZZ1JZXW000001')).to.equal(true)
    expect(isVin('1HGCM82633A004352')).to.equal(true)
  })
  it('isVin refuses wrong length, I, O, Q, lowercase and other characters', () => {
    for (const s of ['', 'WVWZZZ1JZXW00000', 'WVWZZZ1JZXW0000012', 'IVWZZZ1JZXW000001', 'OVWZZZ1JZXW000001',
      'QVWZZZ1JZXW000001', 'wVWZZZ1JZXW000001', 'WVWZZZ1JZXW00000-', 'WVWZZZ1JZXW00000\n']) {
      expect(isVin(s), JSON.stringify(s)).to.equal(false)
    }
  })
  it('isSafeIdentityValue refuses +, #, /, NUL and control characters', () => {
    for (const s of ['a+', '#', 'a/b', 'a\u0000', '\u0001', '\u001f', '\u007f', '\n', '\t', '\u0085']) {
      expect(isSafeIdentityValue(s), JSON.stringify(s)).to.equal(false)
    }
  })
  it('isSafeIdentityValue accepts ordinary names', () => {
    for (const s of ['WVWZZZ1JZXW000001', 'fleet backend 1', 'a.b-c_d', 'Zürich', '$x', '*']) {
      expect(isSafeIdentityValue(s), s).to.equal(true)
    }
  })
})
