// Who an identity is, for clientId ownership: its CN under its root CA. The
// stores themselves (memory, Redis) run the owner store contract
// (test/contract/client-id-owners.ts).
import { expect } from 'chai'
import { ownerName, ownerRecord } from '../../../src/sessions/index.js'
import { identity } from '../../contract/client-id-owners.js'

describe('sessions: clientId owners', () => {
  it('an identity is its CN under its root CA: the same CN from another trusted root is another identity', () => {
    expect(ownerName(identity('ops-eu', 'root-a'))).to.equal('root-a/ops-eu')
    expect(ownerName(identity('ops-eu', 'root-a'))).to.not.equal(ownerName(identity('ops-eu', 'root-b')))
  })

  it('an owner record carries the identity\'s name and a fresh lowercase UUID as its claim token (README "Redis schema")', () => {
    const car = identity('VIN0000000000001', 'root-a')
    const a = ownerRecord(car, 'vehicle', 'node-1', 1000)
    const b = ownerRecord(car, 'vehicle', 'node-1', 1000)
    for (const r of [a, b]) expect(r.token).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(a.token).to.not.equal(b.token)
    expect(a).to.deep.include({ name: 'root-a/VIN0000000000001', cn: 'VIN0000000000001', role: 'vehicle', node: 'node-1', at: 1000 })
    // the name is the identity's, the same at every claim, and per trust anchor
    expect(b.name).to.equal(a.name)
    expect(ownerRecord(identity('VIN0000000000001', 'root-b'), 'vehicle', 'node-1').name).to.equal('root-b/VIN0000000000001')
  })
})
