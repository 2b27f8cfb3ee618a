import { expect } from 'chai'
import { hasValidCheckDigit, isVin, randomVin, randomVins, vinCheckDigit } from '../../../src/pki/index.js'

describe('pki/vin', () => {
  it('computes the North American check digit of known VINs', () => {
    expect(vinCheckDigit('1M8GDM9AXKP042788')).to.equal('X')
    expect(vinCheckDigit('11111111111111111')).to.equal('1')
    expect(vinCheckDigit('1HGCM82633A004352')).to.equal('3')
    expect(hasValidCheckDigit('1M8GDM9AXKP042788')).to.equal(true)
    expect(hasValidCheckDigit('1M8GDM9A1KP042788')).to.equal(false)
  })

  it('makes random VINs of 17 characters of A-HJ-NPR-Z0-9 with a correct check digit', () => {
    for (const vin of randomVins(500)) {
      expect(vin).to.match(/^[A-HJ-NPR-Z0-9]{17}$/)
      expect(isVin(vin)).to.equal(true)
      expect(vin[8]).to.equal(vinCheckDigit(vin))
    }
    expect(new Set(randomVins(200)).size).to.equal(200)
    expect(hasValidCheckDigit(randomVin())).to.equal(true)
  })

  it('refuses values that are not VIN-shaped', () => {
    for (const bad of ['', '1M8GDM9AXKP04278', '1M8GDM9AXKP0427888', '1M8GDM9AXKP04278O', '1m8gdm9axkp042788', 'IM8GDM9AXKP042788', '1M8GDM9AXKP04278Q']) {
      expect(isVin(bad), bad).to.equal(false)
    }
    expect(() => vinCheckDigit('nope')).to.throw(RangeError)
  })
})
