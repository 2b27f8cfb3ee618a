// The signed-command edge check (--enforce-signed-commands) as a pure PublishCheck:
// real JWS signed by src/commands, real certificates of the in-memory test PKI,
// the signer looked up in a real embedded revocation store. No socket.
import { expect } from 'chai'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PublishPacket } from 'aedes'
import { commandEdgeCheck, edgeCommandTrust, RevocationGuard, type CommandEdgeOptions } from '../../../src/checks/index.js'
import { signCommand } from '../../../src/commands/index.js'
import type { CheckResult, PublishReason, SessionView } from '../../../src/contract/index.js'
import { FileRevocationStore } from '../../../src/revocation/index.js'
import { certificateStatus } from '../../../src/stores/index.js'
import { createAuditLogger } from '../../../src/audit/index.js'
import { issueLeaf } from '../../../src/pki/index.js'
import { fixtures, signingKey, VIN, OTHER_VIN, type Fixtures } from '../commands/fixtures.js'
import { rawJws, x5cOf, commandBody } from '../commands/raw-jws.js'
import { identityOf } from './identities.js'

const commandTopic = (vin: string) => `vehicles/${vin}/commands`
const publish = (topic: string, payload: string | Buffer): PublishPacket => ({ cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: 1, retain: false, dup: false })

describe('checks/commandEdgeCheck: signed commands at the broker edge', function () {
  this.timeout(20_000)
  let f: Fixtures
  let session: SessionView
  before(async () => {
    f = await fixtures()
    session = { identity: identityOf(f.backend, f.issuing, f.root), remote: '127.0.0.1' }
  })

  /** the broker's trust: the --ca roots and the CA that issued its own certificate (its --cert chain) */
  const check = (over: Partial<CommandEdgeOptions> = {}) => commandEdgeCheck({ trust: edgeCommandTrust([f.root.cert], f.backend.chainPem), ...over })
  const run = async (c: ReturnType<typeof check>, packet: PublishPacket): Promise<CheckResult<PublishReason>> => await c(session, packet)
  const signed = async (vin: string, by = f.backend) => (await signCommand({ vin, cmd: 'unlock', args: {} }, signingKey(by, f.issuing))).jws
  const commandReason = (r: CheckResult<PublishReason>) => (r.ok ? 'ok' : `${r.reason}:${r.audit?.commandReason ?? ''}`)

  it('answers every other topic at once, with no promise (telemetry pays nothing)', () => {
    const r = check()(session, publish(`vehicles/${VIN}/telemetry/speed`, 'not a JWS at all'))
    expect(r).to.deep.equal({ ok: true })
    expect(typeof (r as Promise<unknown>).then).to.equal('undefined')
  })

  it('admits a command a fleet backend signed for the topic\'s car', async () => {
    expect(commandReason(await run(check(), publish(commandTopic(VIN), await signed(VIN))))).to.equal('ok')
  })

  it('a kid-signed command (a user key of a car\'s list): the edge holds no list, so shape and VIN only; never a revocation lookup', async () => {
    let lookups = 0
    const c = check({ isRevoked: async () => { lookups++; return true } })
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey
    const kid = 'A'.repeat(43)
    expect(commandReason(await run(c, publish(commandTopic(VIN), rawJws({ alg: 'ES256', kid }, commandBody(VIN, 'unlock'), key))))).to.equal('ok')
    expect(commandReason(await run(c, publish(commandTopic(VIN), rawJws({ alg: 'ES256', kid }, commandBody(OTHER_VIN, 'unlock'), key))))).to.equal('command_rejected:wrong_vin')
    expect(commandReason(await run(c, publish(commandTopic(VIN), rawJws({ alg: 'ES256', kid: 'short' }, commandBody(VIN, 'unlock'), key))))).to.equal('command_rejected:malformed')
    expect(commandReason(await run(c, publish(commandTopic(VIN), rawJws({ alg: 'ES256', kid, x5c: x5cOf(f.backend.chainPem) }, commandBody(VIN, 'unlock'), key))))).to.equal('command_rejected:malformed')
    expect(lookups).to.equal(0)
  })

  it('refuses (command_rejected) what the car would refuse for authenticity, the command reason and jti in the audit fields', async () => {
    const c = check()
    const forOther = await signed(OTHER_VIN)
    const r = await run(c, publish(commandTopic(VIN), forOther))
    expect(r).to.deep.include({ ok: false, reason: 'command_rejected', detail: 'wrong_vin' })
    expect((r as { audit: Record<string, string> }).audit.jti).to.match(/^[0-9a-f-]{36}$/)
    expect(commandReason(await run(c, publish(commandTopic(VIN), await signed(VIN, f.vehicle))))).to.equal('command_rejected:insufficient_privileges')
    const rogue = rawJws({ alg: 'ES256', x5c: x5cOf(f.rogueBackend.chainPem) }, commandBody(VIN, 'unlock'), f.rogueBackend.key!)
    expect(commandReason(await run(c, publish(commandTopic(VIN), rogue)))).to.equal('command_rejected:untrusted_signer')
    const good = await signed(VIN)
    const [h, p] = good.split('.')
    const forged = `${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`
    expect(commandReason(await run(c, publish(commandTopic(VIN), forged)))).to.equal('command_rejected:bad_signature')
    expect(commandReason(await run(c, publish(commandTopic(VIN), 'x'.repeat(9000))))).to.equal('command_rejected:malformed')
    expect(commandReason(await run(c, publish(commandTopic(VIN), 'garbage')))).to.equal('command_rejected:malformed')
  })

  it('leaves freshness and replay to the car: the same command twice, and one long expired, pass the edge', async () => {
    const c = check()
    const jws = await signed(VIN)
    expect(commandReason(await run(c, publish(commandTopic(VIN), jws)))).to.equal('ok')
    expect(commandReason(await run(c, publish(commandTopic(VIN), jws)))).to.equal('ok')
    const old = (await signCommand({ vin: VIN, cmd: 'lock', args: {} }, signingKey(f.backend, f.issuing), Date.now() - 3_600_000)).jws
    expect(commandReason(await run(c, publish(commandTopic(VIN), old)))).to.equal('ok')
  })

  it('trusts the CA that issued the broker\'s own certificate, not every CA below a --ca root', async () => {
    // a broker certificate issued by the manufacturing CA: backend commands (issuing CA) are not from its fleet CA
    const brokerFromManufacturing = await issueLeaf(f.manufacturing, 'fleet-backend', 'broker-m')
    const c = check({ trust: edgeCommandTrust([f.root.cert], brokerFromManufacturing.chainPem) })
    expect(commandReason(await run(c, publish(commandTopic(VIN), await signed(VIN))))).to.equal('command_rejected:untrusted_signer')
  })

  describe('the signer against revocation (a real embedded store through the revocation guard)', () => {
    let dir: string
    let store: FileRevocationStore
    let guard: RevocationGuard
    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'fg-edge-'))
      store = await FileRevocationStore.open({ dataDir: dir })
      guard = new RevocationGuard({ store: certificateStatus(store), sessions: { get: () => undefined, candidatesFor: () => [], byFingerprint: () => [], live: () => [], end: () => false }, log: createAuditLogger({ level: 'silent' }), recheckMs: 60_000, cacheMs: 60_000, failOpen: false })
    })
    afterEach(async () => { await guard.stop(); await store.close(); rmSync(dir, { recursive: true, force: true }) })
    const entry = { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' }

    it('refuses a command whose signer certificate is revoked (untrusted_signer, revocation: revoked)', async () => {
      const c = check({ isRevoked: guard.signerRevoked })
      const jws = await signed(VIN)
      expect(commandReason(await run(c, publish(commandTopic(VIN), jws)))).to.equal('ok')
      await store.revoke([{ fingerprint: identityOf(f.backend, f.issuing, f.root).fingerprint }], entry)
      const r = await run(c, publish(commandTopic(VIN), jws))
      expect(r).to.deep.include({ ok: false, reason: 'command_rejected', detail: 'untrusted_signer' })
      expect((r as { audit: Record<string, string> }).audit).to.include({ commandReason: 'untrusted_signer', revocation: 'revoked' })
    })

    it('refuses a command whose signer\'s issuing CA is revoked, by the root + the CA\'s serial', async () => {
      const c = check({ isRevoked: guard.signerRevoked })
      const issuingCa = identityOf(f.backend, f.issuing, f.root).chain[0]!
      await store.revoke([{ issuer: issuingCa.issuerFingerprint!, serial: issuingCa.serial }], entry)
      expect(commandReason(await run(c, publish(commandTopic(VIN), await signed(VIN))))).to.equal('command_rejected:untrusted_signer')
    })

    it('finds a signer revoked through its issuing CA, by the root + the CA\'s serial, as a CONNECT would (signerRevoked)', async () => {
      const fp = (i: number) => i.toString(16).padStart(64, '0')
      const issuingCa = { serial: 'abc1', rootFingerprint: fp(900) }
      expect(await guard.signerRevoked(fp(1), fp(2), '11', issuingCa)).to.equal(false)
      await store.revoke([{ issuer: fp(900), serial: 'abc1' }], { reason: 'cACompromise', revokedAt: '2026-01-01T00:00:00.000Z' })
      expect(await guard.signerRevoked(fp(1), fp(2), '11', issuingCa)).to.equal(true)
    })

    it('fails closed when the store cannot answer, open with revocationFailOpen', async () => {
      const down = async () => { throw new Error('store unreachable') }
      const closed = await run(check({ isRevoked: down }), publish(commandTopic(VIN), await signed(VIN)))
      expect((closed as { audit: Record<string, string> }).audit).to.include({ commandReason: 'untrusted_signer', revocation: 'unavailable' })
      expect(commandReason(await run(check({ isRevoked: down, revocationFailOpen: true }), publish(commandTopic(VIN), await signed(VIN))))).to.equal('ok')
    })
  })
})
