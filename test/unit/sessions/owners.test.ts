// Who an identity is, for clientId ownership: its CN under its root CA. The
// stores themselves (memory, Redis) run the owner store contract
// (test/contract/client-id-owners.ts).
import { expect } from 'chai'
import { ownerName } from '../../../src/sessions/index.js'
import { identity } from '../../contract/client-id-owners.js'

describe('sessions: clientId owners', () => {
  it('an identity is its CN under its root CA: the same CN from another trusted root is another identity', () => {
    expect(ownerName(identity('ops-eu', 'root-a'))).to.equal('root-a/ops-eu')
    expect(ownerName(identity('ops-eu', 'root-a'))).to.not.equal(ownerName(identity('ops-eu', 'root-b')))
  })
})
