import { expect } from 'chai'
import { parsePolicy } from '../../../src/policy/index.js'
import { grantOf, identity, onePolicy, refusal } from './fixtures.js'

const base = 'match: { subject: { OU: t } }'
const id = (subject: Record<string, string[]>, more: Parameters<typeof identity>[0] = {}) =>
  identity({ subject: { OU: ['t'], ...subject }, ...more })

describe('policy: resolve', () => {
  it('first matching role in file order wins, and a failure there does not fall through', () => {
    const p = parsePolicy([
      'roles:',
      '  narrow:', '    match: { subject: { OU: t, O: acme } }', '    clientId: "narrow"',
      '  wide:', '    match: { subject: { OU: t } }', '    clientId: "${subject.CN}*"',
    ].join('\n'), 'p.yaml')
    expect(grantOf(p.resolve(id({ O: ['acme'], CN: ['c'] }), 'narrow')).role).to.equal('narrow')
    expect(grantOf(p.resolve(id({ CN: ['c'] }), 'c-1')).role).to.equal('wide')
    expect(p.resolve(id({ O: ['acme'], CN: ['c'] }), 'c-1')).to.include({ ok: false, reason: 'client_id_mismatch', role: 'narrow' })
  })

  it('all match keys must hold: subject, issuer, san dns/uri, policy', () => {
    const p = onePolicy([
      'match: { subject: { OU: t }, issuer: { O: ca }, san: { dns: d.example, uri: "urn:x" }, policy: "1.3.6.1.4.1.1.2" }',
      'clientId: c',
    ].join('\n'))
    const full = { issuer: { O: ['ca'] }, dns: ['other.example', 'd.example'], uri: ['urn:x'], policies: ['1.3.6.1.4.1.1.2'] }
    expect(grantOf(p.resolve(id({}, full), 'c')).role).to.equal('r')
    expect(refusal(p.resolve(id({}, { ...full, issuer: { O: ['other'] } }), 'c'))).to.equal('no_role')
    expect(refusal(p.resolve(id({}, { ...full, dns: ['x.example'] }), 'c'))).to.equal('no_role')
    expect(refusal(p.resolve(id({}, { ...full, uri: [] }), 'c'))).to.equal('no_role')
    expect(refusal(p.resolve(id({}, { ...full, policies: ['1.3.6.1.4.1.1.3'] }), 'c'))).to.equal('no_role')
    expect(refusal(p.resolve(identity({ subject: { OU: ['u'] }, ...full }), 'c'))).to.equal('no_role')
  })

  it('an attribute name like "constructor" never reaches Object.prototype', () => {
    const p = onePolicy('match: { subject: { constructor: x } }\nclientId: "${subject.toString}*"')
    expect(refusal(p.resolve(id({}), 'c'))).to.equal('no_role')
    const q = onePolicy(`${base}\nclientId: "\${subject.toString}*"`)
    expect(refusal(q.resolve(id({}), 'function'))).to.equal('client_id_mismatch')
  })

  it('clientId: exact template, and trailing * as a prefix', () => {
    const exact = onePolicy(`${base}\nclientId: "car-\${subject.CN}"`)
    expect(grantOf(exact.resolve(id({ CN: ['7'] }), 'car-7')).role).to.equal('r')
    expect(refusal(exact.resolve(id({ CN: ['7'] }), 'car-77'))).to.equal('client_id_mismatch')
    const prefix = onePolicy(`${base}\nclientId: "car-\${subject.CN}*"`)
    expect(grantOf(prefix.resolve(id({ CN: ['7'] }), 'car-7')).role).to.equal('r')
    expect(grantOf(prefix.resolve(id({ CN: ['7'] }), 'car-7-a')).role).to.equal('r')
    // the suffix starts with '-': a prefix alone must not take another client's id (CN 7 vs car-77, a VIN vs its prefix)
    expect(refusal(prefix.resolve(id({ CN: ['7'] }), 'car-77'))).to.equal('client_id_mismatch')
    expect(refusal(prefix.resolve(id({ CN: ['WBA'] }), 'car-WBA3A5C51CF256985'))).to.equal('client_id_mismatch')
    expect(refusal(prefix.resolve(id({ CN: ['7'] }), 'car-'))).to.equal('client_id_mismatch')
    expect(refusal(prefix.resolve(id({}), 'car-'))).to.equal('client_id_mismatch')
  })

  it('a missing placeholder value drops the rule (deny), never a wildcard', () => {
    const p = onePolicy(`${base}\nclientId: c\npublish: ["s/\${san.dns}/x", "o/\${subject.O}", "fixed"]\nsubscribe: ["u/\${san.uri}"]`)
    const g = grantOf(p.resolve(id({}), 'c'))
    expect(g.publishRules).to.deep.equal(['fixed'])
    expect(g.subscribeRules).to.deep.equal([])
    expect(g.canPublish('s//x')).to.equal(false)
    expect(g.canPublish('o/')).to.equal(false)
    const h = grantOf(p.resolve(id({ O: ['acme'] }, { dns: ['d.example'], uri: ['urn:u'] }), 'c'))
    expect(h.publishRules).to.deep.equal(['s/d.example/x', 'o/acme', 'fixed'])
    expect(h.subscribeRules).to.deep.equal(['u/urn:u'])
    expect(h.canPublish('s/d.example/x')).to.equal(true)
  })

  it('placeholders may be part of a level, and take the first value', () => {
    const p = onePolicy(`${base}\nclientId: c\nsubscribe: ["a/pre-\${subject.CN}-\${issuer.CN}/b"]`)
    const g = grantOf(p.resolve(identity({ subject: { OU: ['t'], CN: ['x', 'y'] }, issuer: { CN: ['ca'] } }), 'c'))
    expect(g.subscribeRules).to.deep.equal(['a/pre-x-ca/b'])
    expect(g.canSubscribe('a/pre-x-ca/b')).to.equal(true)
    expect(g.canSubscribe('a/pre-y-ca/b')).to.equal(false)
  })

  it('${clientId} in a rule: only with an exact clientId template (then it is a certificate value, checked as such)', () => {
    // a client-chosen suffix ("svc-/#") could otherwise fill a rule; such a role is refused at load (security review 7)
    expect(() => onePolicy(`${base}\nclientId: "\${subject.CN}*"\nsubscribe: ["inbox/\${clientId}"]`)).to.throw(/needs an exact clientId template/)
    const p = onePolicy(`${base}\nclientId: "\${subject.CN}"\nsubscribe: ["inbox/\${clientId}"]`)
    expect(grantOf(p.resolve(id({ CN: ['svc'] }), 'svc')).subscribeRules).to.deep.equal(['inbox/svc'])
    for (const c of ['svc/#', 'svc+', '#']) expect(refusal(p.resolve(id({ CN: [c] }), c)), JSON.stringify(c)).to.equal('identity_injection')
    // without ${clientId} in the rules the same clientId is fine (it is only compared)
    const q = onePolicy(`${base}\nclientId: "\${subject.CN}*"\nsubscribe: ["inbox/x"]`)
    expect(grantOf(q.resolve(id({ CN: ['svc'] }), 'svc-/#')).role).to.equal('r')
  })

  it('injection in any placeholder value the role uses, issuer and SAN included', () => {
    const p = onePolicy(`${base}\nclientId: c\npublish: ["a/\${issuer.O}", "b/\${san.dns}"]`)
    expect(refusal(p.resolve(id({}, { issuer: { O: ['x/y'] } }), 'c'))).to.equal('identity_injection')
    expect(refusal(p.resolve(id({}, { dns: ['+'] }), 'c'))).to.equal('identity_injection')
    // a value the role does not use is not this module's business
    expect(grantOf(p.resolve(id({ CN: ['#'] }), 'c')).role).to.equal('r')
  })

  it('a value must not turn a rule into a $ rule', () => {
    const p = onePolicy(`${base}\nclientId: c\nsubscribe: ["\${subject.CN}/#"]`)
    expect(refusal(p.resolve(id({ CN: ['$SYS'] }), 'c'))).to.equal('identity_injection')
    expect(grantOf(p.resolve(id({ CN: ['cars'] }), 'c')).canSubscribe('cars/x')).to.equal(true)
  })

  it('grants cannot be changed by their holder (sealed, role read-only, rules frozen)', () => {
    const g = grantOf(onePolicy(`${base}\nclientId: c\npublish: ["a"]`).resolve(id({}), 'c'))
    expect(Object.isSealed(g)).to.equal(true)
    expect(() => { (g as { role: string }).role = 'admin' }).to.throw(TypeError)
    expect(() => { (g as unknown as Record<string, unknown>).canPublish = () => true }).to.throw(TypeError)
    expect(Object.isFrozen(g.publishRules)).to.equal(true)
    expect(g.canPublish('a')).to.equal(true)
    expect(g.canPublish('b')).to.equal(false)
  })
})
