// --tls-groups: names checked against this runtime's OpenSSL, once, at start.
import { expect } from 'chai'
import { resolveConfig, isKnownGroup } from '../../../src/config/index.js'

describe('config: --tls-groups', () => {
  it('the default offers the hybrid group first where OpenSSL has it, then X25519, P-256 and the larger NIST curves', () => {
    const c = resolveConfig({ dev: true })
    expect(c.tlsGroups).to.equal((isKnownGroup('X25519MLKEM768') ? 'X25519MLKEM768:' : '') + 'X25519:P-256:P-384:P-521')
  })

  it('an unknown group refuses to start, naming the flag and the group', () => {
    expect(() => resolveConfig({ dev: true, tlsGroups: 'X25519:FOO448' })).to.throw(/--tls-groups: unknown group "FOO448"/)
    expect(() => resolveConfig({ dev: true }, { FLEETGATE_TLS_GROUPS: 'X25519::P-256' })).to.throw(/FLEETGATE_TLS_GROUPS: empty group name/)
    expect(() => resolveConfig({ dev: true, tlsGroups: '?X25519' })).to.throw(/not a group name/)
  })

  it('a given list is kept in its order, duplicates dropped', () => {
    expect(resolveConfig({ dev: true, tlsGroups: 'P-256,X25519,P-256' }).tlsGroups).to.equal('P-256:X25519')
  })
})
