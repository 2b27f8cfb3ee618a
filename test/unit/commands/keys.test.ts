// The car's key list (src/commands/keys.ts) and verifyCommand's kid path: the
// role table, each key command's rules, unknown_key / role_forbids and where
// they sit in the order. Commands built with node:crypto alone (raw-jws.ts).
import { expect } from 'chai'
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto'
import {
  publicJwkProblem, verifyCommand, ReplayCache, emptyKeyList, planKeyChange, pairOwner, transferTo, wipeKeyList, thumbprintOf, publicJwkOf,
  keyListView, parseKeyList, roleAllows, parseCommandJws, ROLE_TABLE, MAX_KEYS,
  type VerifyContext, type CommandDecision, type KeyList, type PublicJwk,
} from '../../../src/commands/index.js'
import { fixtures, VIN, OTHER_VIN, type Fixtures } from './fixtures.js'
import { rawJws, x5cOf, commandBody } from './raw-jws.js'

interface Key { key: KeyObject; jwk: PublicJwk; kid: string }
function newKey (): Key {
  const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
  const jwk = publicJwkOf(key)
  // RFC 7638 by hand: required members in lexicographic order, no whitespace
  const kid = createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url')
  return { key: key, jwk, kid }
}

async function listWith (...entries: Array<[Key, 'owner' | 'driver' | 'service', number?]>): Promise<KeyList> {
  let list = emptyKeyList()
  const now = Date.now()
  for (const [k, role, until] of entries) {
    const p = role === 'owner' && until === undefined
      ? await pairOwner(list, k.jwk, 'o', now)
      : await planKeyChange(list, 'add_key', { jwk: k.jwk, role, label: role, ...(until !== undefined ? { until } : {}) }, 'test', now)
    if (!p.ok) throw new Error(p.detail)
    list = p.list
  }
  return list
}

describe('commands/keys: the car\'s key list and kid-signed commands', function () {
  this.timeout(20_000)
  let f: Fixtures
  let owner: Key
  let driver: Key
  before(async () => { f = await fixtures(); owner = newKey(); driver = newKey() })

  const kidJws = (k: Key, body: Record<string, unknown>, header: Record<string, unknown> = {}) => rawJws({ alg: 'ES256', kid: k.kid, ...header }, body, k.key)
  const ctx = (list: KeyList, over: Partial<VerifyContext> = {}): VerifyContext => ({
    chains: f.chains(), vin: VIN, topicVin: VIN, now: Date.now(), replay: new ReplayCache(), keys: { list }, ...over,
  })
  const reason = (d: CommandDecision) => (d.ok ? 'executed' : d.reason)

  it('names a key by its RFC 7638 thumbprint (jose agrees with the hand-made one)', async () => {
    expect(await thumbprintOf(owner.jwk)).to.equal(owner.kid)
  })

  it('the role table: owner everything and the key list; driver lock/unlock/climate/charge; service diagnostics only', () => {
    expect(roleAllows('owner', 'add_key')).to.equal(true)
    expect(roleAllows('owner', 'remote_start')).to.equal(true)
    expect(roleAllows('driver', 'unlock')).to.equal(true)
    expect(roleAllows('driver', 'remote_start')).to.equal(false)
    expect(roleAllows('driver', 'add_key')).to.equal(false)
    expect(roleAllows('fleet-manager', 'unlock')).to.equal(true)
    expect(roleAllows('fleet-manager', 'transfer')).to.equal(false)
    expect(ROLE_TABLE.service).to.deep.equal({ commands: ['diagnostics'], timeBoxed: true })
  })

  it('kid form: executed with the listed key, and the decision names the key and its role', async () => {
    const list = await listWith([owner, 'owner'], [driver, 'driver'])
    const d = await verifyCommand(kidJws(driver, commandBody(VIN, 'unlock')), ctx(list))
    expect(d).to.deep.include({ ok: true, by: driver.kid, role: 'driver' })
  })

  it('unknown_key: not in the list, no list at all, past its window; before the signature is checked', async () => {
    const list = await listWith([owner, 'owner'])
    const stranger = newKey()
    expect(reason(await verifyCommand(kidJws(stranger, commandBody(VIN, 'unlock')), ctx(list)))).to.equal('unknown_key')
    expect(reason(await verifyCommand(kidJws(owner, commandBody(VIN, 'unlock')), { ...ctx(list), keys: undefined }))).to.equal('unknown_key')
    // a kid of the list with a signature by another key: the kid is known, the signature is not its
    const forged = rawJws({ alg: 'ES256', kid: owner.kid }, commandBody(VIN, 'unlock'), stranger.key)
    expect(reason(await verifyCommand(forged, ctx(list)))).to.equal('bad_signature')
    const svc = newKey()
    const withService = await listWith([owner, 'owner'], [svc, 'service', Date.now() + 1000])
    expect(reason(await verifyCommand(kidJws(svc, commandBody(VIN, 'diagnostics')), ctx(withService)))).to.equal('executed')
    expect(reason(await verifyCommand(kidJws(svc, commandBody(VIN, 'diagnostics')), ctx(withService, { now: Date.now() + 2000 })))).to.equal('unknown_key')
  })

  it('role_forbids after the allowlist and args, before replay; the replay set is untouched by a refusal', async () => {
    const list = await listWith([owner, 'owner'], [driver, 'driver'])
    const c = ctx(list)
    const body = commandBody(VIN, 'remote_start')
    expect(reason(await verifyCommand(kidJws(driver, body), c))).to.equal('role_forbids')
    expect(c.replay!.size).to.equal(0)
    expect(reason(await verifyCommand(kidJws(driver, commandBody(VIN, 'self_destruct')), c))).to.equal('unknown_command')
    expect(reason(await verifyCommand(kidJws(driver, commandBody(VIN, 'set_charge_limit', { percent: 5 })), c))).to.equal('bad_args')
    expect(reason(await verifyCommand(kidJws(driver, commandBody(OTHER_VIN, 'unlock')), c))).to.equal('wrong_vin')
  })

  it('malformed: kid and x5c together, a kid that is not a thumbprint, kid on a result', () => {
    const both = rawJws({ alg: 'ES256', kid: owner.kid, x5c: x5cOf(f.backend.chainPem) }, commandBody(VIN, 'unlock'), owner.key)
    expect(parseCommandJws(both)).to.deep.include({ ok: false, detail: 'both kid and x5c' })
    expect(parseCommandJws(kidJws(owner, commandBody(VIN, 'unlock'), { kid: 'abc' })).ok).to.equal(false)
  })

  it('the edge (scope authenticity) holds no list: a kid command passes on shape and VIN, wrong_vin otherwise', async () => {
    const stranger = newKey()
    const edge = { chains: f.chains(), vin: VIN, topicVin: VIN, now: Date.now(), scope: 'authenticity' as const }
    expect(reason(await verifyCommand(kidJws(stranger, commandBody(VIN, 'unlock')), edge))).to.equal('executed')
    expect(reason(await verifyCommand(kidJws(stranger, commandBody(OTHER_VIN, 'unlock')), edge))).to.equal('wrong_vin')
  })

  it('x5c: the backend entry\'s role decides with a list; key commands without a list are role_forbids; a wiped list knows no backend', async () => {
    const backendJws = (body: Record<string, unknown>) => rawJws({ alg: 'ES256', x5c: x5cOf(f.backend.chainPem) }, body, f.backend.key!)
    const list = await listWith([owner, 'owner'])
    const add = commandBody(VIN, 'add_key', { jwk: newKey().jwk, role: 'owner', label: 'cloud' })
    expect(reason(await verifyCommand(backendJws(add), ctx(list)))).to.equal('role_forbids')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'add_key', { jwk: newKey().jwk, role: 'owner', label: 'x' })), { ...ctx(list), keys: undefined }))).to.equal('role_forbids')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'remote_start')), ctx(list, { keys: { list, backendRole: 'driver' } })))).to.equal('role_forbids')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'unlock')), ctx(list, { keys: { list, backendRole: 'driver' } })))).to.equal('executed')
    expect(reason(await verifyCommand(backendJws(commandBody(VIN, 'unlock')), ctx(wipeKeyList(list).list)))).to.equal('unknown_key')
    // the monitor is still refused by the certificate role table first
    const monitor = rawJws({ alg: 'ES256', x5c: x5cOf(f.monitor.chainPem) }, commandBody(VIN, 'add_key', { jwk: newKey().jwk, role: 'owner', label: 'x' }), f.monitor.key!)
    expect(reason(await verifyCommand(monitor, ctx(list)))).to.equal('insufficient_privileges')
  })

  it('add_key by an owner: the new list and the change; a copy of it is replayed, not a conflict', async () => {
    const list = await listWith([owner, 'owner'])
    const c = ctx(list)
    const k = newKey()
    const jws = kidJws(owner, commandBody(VIN, 'add_key', { jwk: k.jwk, role: 'driver', label: 'Ben' }))
    const d = await verifyCommand(jws, c)
    if (!d.ok) throw new Error(d.detail)
    expect(d.keyChange?.change).to.deep.include({ op: 'add_key', kid: k.kid, role: 'driver', label: 'Ben', seq: list.seq + 1 })
    expect(d.keyChange?.list.keys.map((e) => e.kid)).to.deep.equal([owner.kid, k.kid])
    expect(reason(await verifyCommand(jws, { ...c, keys: { list: d.keyChange!.list } }))).to.equal('replayed')
  })

  it('add_key rules: P-256 public JWK only, addable roles, service time-boxed, no duplicate, bounded window and size', async () => {
    const list = await listWith([owner, 'owner'])
    const now = Date.now()
    const bad = async (args: Record<string, unknown>, l = list) => reason(await verifyCommand(kidJws(owner, commandBody(VIN, 'add_key', args)), ctx(l)))
    const k = newKey()
    expect(await bad({ jwk: { ...k.jwk, d: 'x' }, role: 'driver', label: 'x' })).to.equal('bad_args')
    expect(await bad({ jwk: { ...k.jwk, crv: 'P-384' }, role: 'driver', label: 'x' })).to.equal('bad_args')
    expect(await bad({ jwk: { ...k.jwk, x: k.jwk.y, y: k.jwk.x }, role: 'driver', label: 'x' })).to.equal('bad_args')
    expect(await bad({ jwk: k.jwk, role: 'fleet-manager', label: 'x' })).to.equal('bad_args')
    expect(await bad({ jwk: k.jwk, role: 'service', label: 'x' })).to.equal('bad_args')
    expect(await bad({ jwk: k.jwk, role: 'service', label: 'x', until: now - 1 })).to.equal('bad_args')
    expect(await bad({ jwk: k.jwk, role: 'service', label: 'x', until: now + 91 * 86_400_000 })).to.equal('bad_args')
    expect(await bad({ jwk: k.jwk, role: 'driver', label: '' })).to.equal('bad_args')
    expect(await bad({ jwk: k.jwk, role: 'driver', label: 'a\nb' })).to.equal('bad_args')
    expect(await bad({ jwk: owner.jwk, role: 'driver', label: 'again' })).to.equal('bad_args')
    let full = list
    for (let i = 0; i < MAX_KEYS - 1; i++) {
      const p = await planKeyChange(full, 'add_key', { jwk: newKey().jwk, role: 'driver', label: `d${i}` }, owner.kid, now)
      if (!p.ok) throw new Error(p.detail)
      full = p.list
    }
    expect(await bad({ jwk: k.jwk, role: 'driver', label: 'one too many' }, full)).to.equal('bad_args')
  })

  it('remove_key: a listed key goes; the last owner stays; transfer keeps only the new owner (and the backend entry)', async () => {
    const second = newKey()
    const list = await listWith([owner, 'owner'], [driver, 'driver'])
    const rm = await planKeyChange(list, 'remove_key', { kid: driver.kid }, owner.kid, Date.now())
    expect(rm.ok && rm.list.keys.map((k) => k.kid)).to.deep.equal([owner.kid])
    expect(await planKeyChange(list, 'remove_key', { kid: owner.kid }, owner.kid, Date.now())).to.deep.include({ ok: false })
    expect(await planKeyChange(list, 'remove_key', { kid: second.kid }, owner.kid, Date.now())).to.deep.include({ ok: false })
    const two = await listWith([owner, 'owner'], [second, 'owner'])
    expect((await planKeyChange(two, 'remove_key', { kid: owner.kid }, second.kid, Date.now())).ok).to.equal(true)
    const t = await transferTo(list, second.jwk, 'new', owner.kid, Date.now())
    if (!t.ok) throw new Error(t.detail)
    expect(keyListView(t.list, 'fleet-manager', Date.now())).to.deep.equal([
      { kid: 'ou:fleet-backend', role: 'fleet-manager', label: 'fleet backend' },
      { kid: second.kid, role: 'owner', label: 'new' },
    ])
    expect(keyListView(wipeKeyList(t.list).list, 'fleet-manager', Date.now())).to.deep.equal([])
  })

  it('parseKeyList takes back what the car wrote and refuses anything else', async () => {
    const list = await listWith([owner, 'owner'], [driver, 'driver', Date.now() + 60_000])
    expect(parseKeyList(JSON.parse(JSON.stringify(list)))).to.deep.equal(list)
    expect(parseKeyList({ ...list, keys: [{ ...list.keys[0], role: 'admin' }] })).to.equal(null)
    expect(parseKeyList({ v: 2 })).to.equal(null)
    expect(parseKeyList(null)).to.equal(null)
  })
})

describe('a public JWK has one spelling (security review 5)', () => {
  it('refuses x or y with the spare bits of their last base64url character set: one point, one thumbprint', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string }
    expect(publicJwkProblem({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y })).to.equal(null)
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = B64.indexOf(jwk.x.at(-1)!)
    // 32 bytes = 42 chars + one holding 4 data bits and 2 spare ones: flip a spare bit
    const alias = jwk.x.slice(0, -1) + B64[last ^ 1]!
    expect(Buffer.from(alias, 'base64url').equals(Buffer.from(jwk.x, 'base64url')), 'decodes to the same bytes').to.equal(true)
    expect(publicJwkProblem({ kty: 'EC', crv: 'P-256', x: alias, y: jwk.y })).to.match(/canonical/)
  })
})
