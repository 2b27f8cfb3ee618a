// verifyCommand: every reason, the order of README "Signed commands", cheap checks before crypto,
// replay state last. Commands built with node:crypto alone (raw-jws.ts) and
// with our signCommand.
import { expect } from 'chai'
import {
  verifyCommand, signCommand, ReplayCache, SignerVerifier, commandTrust, type VerifyContext, type CommandDecision,
} from '../../../src/commands/index.js'
import { fixtures, signingKey, VIN, OTHER_VIN, type Fixtures } from './fixtures.js'
import { rawJws, x5cOf, commandBody, tamper } from './raw-jws.js'
import { issueLeaf, type IssuedCertificate } from '../../../src/pki/index.js'

describe('commands/verifyCommand (README "Signed commands")', function () {
  this.timeout(20_000)
  let f: Fixtures
  before(async () => { f = await fixtures() })

  const ctx = (over: Partial<VerifyContext> = {}): VerifyContext => ({ chains: f.chains(), vin: VIN, topicVin: VIN, now: Date.now(), replay: new ReplayCache(), ...over })
  const backendJws = (body: Record<string, unknown>, header: Record<string, unknown> = {}) =>
    rawJws({ alg: 'ES256', x5c: x5cOf(f.backend.chainPem), ...header }, body, f.backend.key!)
  const reason = (d: CommandDecision) => (d.ok ? 'executed' : d.reason)

  it('accepts a command signed with node:crypto alone (interop), and refuses its replay', async () => {
    const c = ctx()
    const jws = backendJws(commandBody(VIN, 'unlock'))
    const d = await verifyCommand(jws, c)
    expect(d.ok, JSON.stringify(d)).to.equal(true)
    expect(reason(await verifyCommand(jws, c))).to.equal('replayed')
  })

  it('accepts our own signCommand output and a typ header; x5c of the leaf alone or with the root', async () => {
    const { jws } = await signCommand({ vin: VIN, cmd: 'set_charge_limit', args: { percent: 80 } }, signingKey(f.backend, f.issuing))
    expect(reason(await verifyCommand(jws, ctx()))).to.equal('executed')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'lock'), { typ: 'JWT' }), ctx()))).to.equal('executed')
    const leafOnly = x5cOf(f.backend.chainPem).slice(0, 1)
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'lock'), { x5c: leafOnly }), ctx()))).to.equal('executed')
    const withRoot = [...x5cOf(f.backend.chainPem), x5cOf(f.root.certPem)[0]]
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'lock'), { x5c: withRoot }), ctx()))).to.equal('executed')
  })

  describe('malformed', () => {
    const cases: Array<[string, () => string]> = [
      ['over 8 KiB', () => backendJws(commandBody(VIN, 'unlock', { pad: 'x'.repeat(9000) }))],
      ['two parts', () => backendJws(commandBody(VIN, 'unlock')).split('.').slice(0, 2).join('.')],
      ['alg none, no signature', () => `${Buffer.from(JSON.stringify({ alg: 'none', x5c: x5cOf(f.backend.chainPem) })).toString('base64url')}.${Buffer.from(JSON.stringify(commandBody(VIN, 'unlock'))).toString('base64url')}.`],
      ['alg HS256', () => backendJws(commandBody(VIN, 'unlock'), { alg: 'HS256' })],
      ['alg es256 (case)', () => backendJws(commandBody(VIN, 'unlock'), { alg: 'es256' })],
      ['crit header', () => backendJws(commandBody(VIN, 'unlock'), { crit: ['exp'] })],
      ['x5c missing', () => rawJws({ alg: 'ES256' }, commandBody(VIN, 'unlock'), f.backend.key!)],
      ['x5c of four', () => backendJws(commandBody(VIN, 'unlock'), { x5c: [...x5cOf(f.backend.chainPem), ...x5cOf(f.backend.chainPem)] })],
      ['x5c not base64', () => backendJws(commandBody(VIN, 'unlock'), { x5c: ['!!'] })],
      ['payload not JSON', () => backendJws({}, {}).split('.')[0] + '.' + Buffer.from('{nope').toString('base64url') + '.AAAA'],
      ['extra payload key', () => backendJws(commandBody(VIN, 'unlock', {}, { extra: 1 }))],
      ['v 2', () => backendJws(commandBody(VIN, 'unlock', {}, { v: 2 }))],
      ['jti not a uuid', () => backendJws(commandBody(VIN, 'unlock', {}, { jti: 'abc' }))],
      ['iat in seconds as float', () => backendJws(commandBody(VIN, 'unlock', {}, { iat: 1.5 }))],
      ['args an array', () => backendJws(commandBody(VIN, 'unlock', [] as unknown as object))],
      ['exp before iat', () => backendJws(commandBody(VIN, 'unlock', {}, { exp: 1 }))],
    ]
    for (const [name, make] of cases) {
      it(name, async () => { expect(reason(await verifyCommand(make(), ctx()))).to.equal('malformed') })
    }

    it('is decided before any cryptography (the chain verifier is never called)', async () => {
      let calls = 0
      class Spy extends SignerVerifier { override async verify (x5c: readonly string[], now: number) { calls++; return await super.verify(x5c, now) } }
      const spy = new Spy(commandTrust([f.root.cert], [f.issuing.cert]))
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', x5c: x5cOf(f.backend.chainPem) })).toString('base64url')}.${Buffer.from(JSON.stringify(commandBody(VIN, 'unlock'))).toString('base64url')}.`
      expect(reason(await verifyCommand(none, ctx({ chains: spy })))).to.equal('malformed')
      expect(calls).to.equal(0)
    })

    it('carries the jti when the payload had one, none otherwise', async () => {
      const body = commandBody(VIN, 'unlock', {}, { v: 2 })
      const d = await verifyCommand(backendJws(body), ctx())
      expect(d.ok === false && d.jti).to.equal(body.jti)
      const d2 = await verifyCommand('a.b', ctx())
      expect(d2.ok === false && d2.jti).to.equal(undefined)
    })
  })

  describe('untrusted_signer', () => {
    it('x5c from the rogue CA', async () => {
      const jws = rawJws({ alg: 'ES256', x5c: x5cOf(f.rogueBackend.chainPem) }, commandBody(VIN, 'unlock'), f.rogueBackend.key!)
      expect(reason(await verifyCommand(jws, ctx()))).to.equal('untrusted_signer')
    })
    it('a chain through the manufacturing CA (right root, wrong issuing CA)', async () => {
      const jws = rawJws({ alg: 'ES256', x5c: x5cOf(f.factoryBackend.chainPem) }, commandBody(VIN, 'unlock'), f.factoryBackend.key!)
      expect(reason(await verifyCommand(jws, ctx()))).to.equal('untrusted_signer')
      // and a bare leaf of the manufacturing CA finds no pinned issuer either
      const bare = rawJws({ alg: 'ES256', x5c: x5cOf(f.factoryBackend.chainPem).slice(0, 1) }, commandBody(VIN, 'unlock'), f.factoryBackend.key!)
      expect(reason(await verifyCommand(bare, ctx()))).to.equal('untrusted_signer')
    })
    it('an expired signer certificate, also once its chain is cached', async () => {
      const jws = rawJws({ alg: 'ES256', x5c: x5cOf(f.expiredBackend.chainPem) }, commandBody(VIN, 'unlock'), f.expiredBackend.key!)
      expect(reason(await verifyCommand(jws, ctx()))).to.equal('untrusted_signer')
      const chains = f.chains()
      const good = backendJws(commandBody(VIN, 'unlock'))
      expect(reason(await verifyCommand(good, ctx({ chains })))).to.equal('executed')
      const later = Date.now() + 5 * 365 * 86_400_000
      expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'unlock', {}, {}, later)), ctx({ chains, now: later })))).to.equal('untrusted_signer')
    })
    it('a leaf of the issuing CA presented with a forged x5c[1]', async () => {
      const jws = backendJws(commandBody(VIN, 'unlock'), { x5c: [x5cOf(f.backend.chainPem)[0], x5cOf(f.rogue.certPem)[0]] })
      expect(reason(await verifyCommand(jws, ctx()))).to.equal('untrusted_signer')
    })
  })

  it('bad_signature: tampered payload; signed by another key than the x5c leaf', async () => {
    expect(reason(await verifyCommand(tamper(backendJws(commandBody(VIN, 'unlock'))), ctx()))).to.equal('bad_signature')
    const other = rawJws({ alg: 'ES256', x5c: x5cOf(f.backend.chainPem) }, commandBody(VIN, 'unlock'), f.monitor.key!)
    expect(reason(await verifyCommand(other, ctx()))).to.equal('bad_signature')
  })

  it('insufficient_privileges: a monitor, a vehicle; the role table is the car\'s option', async () => {
    const mon = rawJws({ alg: 'ES256', x5c: x5cOf(f.monitor.chainPem) }, commandBody(VIN, 'unlock'), f.monitor.key!)
    expect(reason(await verifyCommand(mon, ctx()))).to.equal('insufficient_privileges')
    const car = rawJws({ alg: 'ES256', x5c: x5cOf(f.otherVehicle.chainPem) }, commandBody(VIN, 'unlock'), f.otherVehicle.key!)
    expect(reason(await verifyCommand(car, ctx()))).to.equal('insufficient_privileges')
    const roles = { 'fleet-backend': ['lock'] as const, 'fleet-monitor': ['honk'] as const }
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'unlock')), ctx(), { roles }))).to.equal('insufficient_privileges')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'lock')), ctx(), { roles }))).to.equal('executed')
    const honk = rawJws({ alg: 'ES256', x5c: x5cOf(f.monitor.chainPem) }, commandBody(VIN, 'honk'), f.monitor.key!)
    expect(reason(await verifyCommand(honk, ctx(), { roles }))).to.equal('executed')
  })

  it('wrong_vin: another car; the right car on another car\'s topic', async () => {
    expect(reason(await verifyCommand(backendJws(commandBody(OTHER_VIN, 'unlock')), ctx()))).to.equal('wrong_vin')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'unlock')), ctx({ topicVin: OTHER_VIN })))).to.equal('wrong_vin')
  })

  it('ttl_too_long, not_yet_valid, expired at their bounds (skew 30 s, lifetime 60 s)', async () => {
    const now = Date.now()
    const at = (iat: number, exp: number) => backendJws(commandBody(VIN, 'unlock', {}, { iat, exp }))
    expect(reason(await verifyCommand(at(now, now + 60_001), ctx({ now })))).to.equal('ttl_too_long')
    expect(reason(await verifyCommand(at(now, now + 60_000), ctx({ now })))).to.equal('executed')
    expect(reason(await verifyCommand(at(now + 30_001, now + 40_000), ctx({ now })))).to.equal('not_yet_valid')
    expect(reason(await verifyCommand(at(now + 30_000, now + 40_000), ctx({ now })))).to.equal('executed')
    expect(reason(await verifyCommand(at(now - 50_000, now - 30_001), ctx({ now })))).to.equal('expired')
    expect(reason(await verifyCommand(at(now - 50_000, now - 30_000), ctx({ now })))).to.equal('executed')
    // options
    expect(reason(await verifyCommand(at(now, now + 10_000), ctx({ now }), { maxLifetimeMs: 5_000 }))).to.equal('ttl_too_long')
    expect(reason(await verifyCommand(at(now - 20_000, now - 1_000), ctx({ now }), { skewMs: 0 }))).to.equal('expired')
  })

  it('unknown_command, bad_args', async () => {
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'execute', { sh: 'rm -rf /' })), ctx()))).to.equal('unknown_command')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'set_charge_limit', { percent: 49 })), ctx()))).to.equal('bad_args')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'set_charge_limit', { percent: 80.5 })), ctx()))).to.equal('bad_args')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'set_charge_limit', { percent: 80, x: 1 })), ctx()))).to.equal('bad_args')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'unlock', { force: true })), ctx()))).to.equal('bad_args')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'set_charge_limit', { percent: 100 })), ctx()))).to.equal('executed')
  })

  it('answers with the first check that fails, in the README\'s order', async () => {
    const now = Date.now()
    // wrong VIN + expired + unknown command -> wrong_vin
    expect(reason(await verifyCommand(backendJws(commandBody(OTHER_VIN, 'nope', {}, { iat: now - 90_000, exp: now - 80_000 })), ctx({ now })))).to.equal('wrong_vin')
    // monitor + wrong VIN -> insufficient_privileges
    const mon = rawJws({ alg: 'ES256', x5c: x5cOf(f.monitor.chainPem) }, commandBody(OTHER_VIN, 'unlock'), f.monitor.key!)
    expect(reason(await verifyCommand(mon, ctx()))).to.equal('insufficient_privileges')
    // tampered + rogue -> untrusted_signer
    const rogue = rawJws({ alg: 'ES256', x5c: x5cOf(f.rogueBackend.chainPem) }, commandBody(VIN, 'unlock'), f.rogueBackend.key!)
    expect(reason(await verifyCommand(tamper(rogue), ctx()))).to.equal('untrusted_signer')
    // too long + future -> ttl_too_long; future + bad args -> not_yet_valid; expired + unknown -> expired
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'unlock', {}, { iat: now + 90_000, exp: now + 190_000 })), ctx({ now })))).to.equal('ttl_too_long')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'unlock', { x: 1 }, { iat: now + 90_000, exp: now + 100_000 })), ctx({ now })))).to.equal('not_yet_valid')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'nope', {}, { iat: now - 90_000, exp: now - 80_000 })), ctx({ now })))).to.equal('expired')
    // unknown command before bad args
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'nope', { x: 1 })), ctx()))).to.equal('unknown_command')
  })

  it('updates the replay state only when every other check holds', async () => {
    const c = ctx()
    const body = commandBody(VIN, 'unlock')
    const good = backendJws(body)
    expect(reason(await verifyCommand(tamper(good), c))).to.equal('bad_signature')
    expect(reason(await verifyCommand(backendJws({ ...body, args: { x: 1 } }), c))).to.equal('bad_args')
    expect(c.replay!.size).to.equal(0)
    expect(reason(await verifyCommand(good, c))).to.equal('executed')
    expect(reason(await verifyCommand(good, c))).to.equal('replayed')
  })

  it('scope authenticity (the broker edge) stops after wrong_vin and keeps no replay state', async () => {
    const now = Date.now()
    const stale = backendJws(commandBody(VIN, 'nope', {}, { iat: now - 90_000, exp: now - 80_000 }))
    expect(reason(await verifyCommand(stale, { chains: f.chains(), vin: VIN, now, scope: 'authenticity' }))).to.equal('executed')
    expect(reason(await verifyCommand(tamper(stale), { chains: f.chains(), vin: VIN, now, scope: 'authenticity' }))).to.equal('bad_signature')
  })

  describe('the signer certificate is checked like a client\'s (security review 8): untrusted_signer', () => {
    const signedBy = (leaf: IssuedCertificate) =>
      rawJws({ alg: 'ES256', x5c: x5cOf(leaf.chainPem) }, commandBody(VIN, 'unlock'), leaf.key!)
    const cases: Array<[string, Parameters<typeof issueLeaf>[3], RegExp]> = [
      ['serverAuth EKU only', { eku: ['serverAuth'] }, /neither clientAuth nor documentSigning/],
      ['no EKU extension', { eku: null }, /no extendedKeyUsage/],
      ['keyUsage keyEncipherment alone', { keyUsage: ['keyEncipherment'] }, /lacks digitalSignature/],
      ['no keyUsage extension', { keyUsage: null }, /no keyUsage extension/],
      ['two OUs (fleet-monitor, then fleet-backend)', { subject: [['O', 'fleetgate dev'], ['OU', 'fleet-backend'], ['OU', 'fleet-monitor'], ['CN', 'two-ous']] }, /2 OU values/],
    ]
    for (const [name, opts, detail] of cases) {
      it(name, async () => {
        const leaf = await issueLeaf(f.issuing, 'fleet-backend', 'odd-signer', opts)
        const d = await verifyCommand(signedBy(leaf), ctx())
        expect(reason(d)).to.equal('untrusted_signer')
        expect(d.ok ? '' : d.detail).to.match(detail)
      })
    }
    it('accepts documentSigning (RFC 9336) in place of clientAuth', async () => {
      const leaf = await issueLeaf(f.issuing, 'fleet-backend', 'doc-signer', { eku: ['1.3.6.1.5.5.7.3.36'] })
      expect(reason(await verifyCommand(signedBy(leaf), ctx()))).to.equal('executed')
    })
  })
})
