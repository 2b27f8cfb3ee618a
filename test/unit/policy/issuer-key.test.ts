// match.issuerKey: a role pinned to its issuing CA's key, not only its name.
import { expect } from 'chai'
import type { CaInfo, Identity } from '../../../src/identity/identity.js'
import { parsePolicy } from '../../../src/policy/index.js'
import { pinIssuerKeys } from '../../../src/policy/pin.js'
import { isFleetgateError } from '../../../src/contract/errors.js'
import { cert, ISSUING, refusal, VIN } from './fixtures.js'

const KEY = 'a1'.repeat(32)
const OTHER = 'b2'.repeat(32)

/** a vehicle certificate whose verified issuing CA has this SPKI hash (undefined: unknown) */
function issuedBy (spki: string | undefined, chain = true): Identity {
  const base = cert(VIN, 'vehicle')
  const ca: CaInfo = { fingerprint: 'cd'.repeat(32), serial: '2', issuerFingerprint: null, subject: { CN: [ISSUING] }, ...(spki !== undefined ? { spki } : {}) }
  return { ...base, chain: chain ? [ca] : [] }
}

const policy = (issuerKey: string) => parsePolicy(`roles:
  vehicle:
    match: { subject: { OU: vehicle }, issuer: { CN: "${ISSUING}" }, issuerKey: ${issuerKey} }
    clientId: "\${subject.CN}"
    publish: ["vehicles/\${subject.CN}/status"]
`, 'test.yaml')

describe('policy: match.issuerKey (the issuing CA pinned by key)', () => {
  it('the CA with the pinned key gets the role; a CA with the same name and another key does not', () => {
    const p = policy(`"${KEY}"`)
    expect(refusal(p.resolve(issuedBy(KEY), VIN))).to.equal('granted role vehicle')
    expect(refusal(p.resolve(issuedBy(OTHER), VIN))).to.equal('no_role')
    expect(refusal(p.resolve(issuedBy(undefined), VIN))).to.equal('no_role') // unknown key: fail closed
    expect(refusal(p.resolve(issuedBy(KEY, false), VIN))).to.equal('no_role') // no verified chain
  })

  it('takes a list (key rollover) and openssl\'s colon form in either case', () => {
    const colon = OTHER.toUpperCase().match(/../g)!.join(':')
    const p = policy(`["${KEY}", "${colon}"]`)
    expect(refusal(p.resolve(issuedBy(KEY), VIN))).to.equal('granted role vehicle')
    expect(refusal(p.resolve(issuedBy(OTHER), VIN))).to.equal('granted role vehicle')
    expect(refusal(p.resolve(issuedBy('c3'.repeat(32)), VIN))).to.equal('no_role')
  })

  it('refuses at load a value that is not a SHA-256, or an empty list, naming file and line', () => {
    for (const bad of ['"abc"', '[]', '42', `"${KEY}0"`]) {
      let err: unknown
      try { policy(bad) } catch (e) { err = e }
      expect(isFleetgateError(err) && err.code, bad).to.equal('FG_ERR_POLICY_INVALID')
      expect((err as Error).message, bad).to.match(/^test\.yaml:3: role "vehicle": match\.issuerKey/)
    }
  })

  it('pinIssuerKeys pins every role pinned by CA name, and refuses a name it has no key for', () => {
    const text = 'roles:\n  a:\n    match: { subject: { OU: x }, issuer: { CN: "A" } }\n    clientId: "${subject.CN}"\n' +
      '  b:\n    match: { subject: { OU: y }, issuer: { CN: "B" } }\n    clientId: "${subject.CN}"\n'
    const pinned = pinIssuerKeys(text, new Map([['A', KEY], ['B', OTHER]]), 'p.yaml')
    expect(pinned).to.include(`issuer: { CN: "A" }, issuerKey: "${KEY}" }`).and.include(`issuer: { CN: "B" }, issuerKey: "${OTHER}" }`)
    expect(() => pinIssuerKeys(text, new Map([['A', KEY]]), 'p.yaml')).to.throw(/no key for the CA named "B"/)
  })
})
