import { expect } from 'chai'
import { signResult, verifyResult } from '../../../src/commands/index.js'
import { fixtures, signingKey, VIN, type Fixtures } from './fixtures.js'
import { rawJws, x5cOf } from './raw-jws.js'

describe('commands/signResult + verifyResult', function () {
  this.timeout(20_000)
  let f: Fixtures
  before(async () => { f = await fixtures() })
  const jti = '4b0a5a3e-5b7e-4c39-9d39-1f5f0f2d7a11'

  it('a result signed by the car, x5c its leaf + issuing CA, bound to the jti', async () => {
    const jws = await signResult(VIN, jti, 'rejected', 'expired', signingKey(f.vehicle, f.issuing))
    const header = JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()) as { alg: string; x5c: string[] }
    expect(header.alg).to.equal('ES256')
    expect(header.x5c).to.deep.equal(x5cOf(f.vehicle.chainPem))
    const d = await verifyResult(jws, { chains: f.chains(), vin: VIN, jti, now: Date.now() })
    expect(d.ok && d.result).to.deep.include({ v: 1, vin: VIN, jti, status: 'rejected', reason: 'expired' })
  })

  it('refuses another car\'s signature, a backend\'s, another jti, a rogue chain, a tampered result', async () => {
    const chains = f.chains()
    const now = Date.now()
    const byOther = await signResult(VIN, jti, 'executed', undefined, signingKey(f.otherVehicle, f.issuing))
    expect((await verifyResult(byOther, { chains, vin: VIN, jti, now })).ok).to.equal(false)
    const byBackend = await signResult(VIN, jti, 'executed', undefined, signingKey(f.backend, f.issuing))
    expect((await verifyResult(byBackend, { chains, vin: VIN, jti, now })).ok).to.equal(false)
    const good = await signResult(VIN, jti, 'executed', undefined, signingKey(f.vehicle, f.issuing))
    expect((await verifyResult(good, { chains, vin: VIN, jti: '4b0a5a3e-5b7e-4c39-9d39-1f5f0f2d7a12', now })).ok).to.equal(false)
    const rogue = rawJws({ alg: 'ES256', x5c: x5cOf(f.rogueBackend.chainPem) }, { v: 1, vin: VIN, jti, status: 'executed', ts: now }, f.rogueBackend.key!)
    expect((await verifyResult(rogue, { chains, vin: VIN, jti, now })).ok).to.equal(false)
    const [h, , s] = good.split('.')
    const forged = `${h}.${Buffer.from(JSON.stringify({ v: 1, vin: VIN, jti, status: 'rejected', reason: 'expired', ts: now })).toString('base64url')}.${s}`
    expect((await verifyResult(forged, { chains, vin: VIN, jti, now })).ok).to.equal(false)
  })

  it('verifies a result made with node:crypto alone', async () => {
    const jws = rawJws({ alg: 'ES256', x5c: x5cOf(f.vehicle.chainPem) }, { v: 1, vin: VIN, jti, status: 'executed', ts: Date.now() }, f.vehicle.key!)
    expect((await verifyResult(jws, { chains: f.chains(), vin: VIN, jti, now: Date.now() })).ok).to.equal(true)
  })
})
