// Per-car key lists end to end (README "Signed commands": the car's key list,
// roles, pairing, a phone, a change of owner): a real broker with the edge check
// on (its default), real car processes (`fleetgate sim car --json --state-dir
// --pair`), phones as the real CLI (`fleetgate sim phone ...`, phone
// certificates, OU=phone), and a real MQTT.js backend. Each decision is
// asserted on the car's signed result and on its own JSON line.
import { expect } from 'chai'
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, connect, end } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'
import { signCommand } from '../../src/commands/index.js'
import { CarProcess, ResultInbox, commandBody, rawSigner, resultVerifier, sign } from './signed-commands-support.js'
import { rawJws } from '../unit/commands/raw-jws.js'

/** A user key made and named with node:crypto alone: RFC 7638 by hand (members in lexicographic order, no spaces). */
interface RawUserKey { readonly key: KeyObject; readonly kid: string; readonly pubPem: string; readonly pubFile: string; readonly keyFile: string }
function rawUserKey (dir: string, name: string): RawUserKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const jwk = publicKey.export({ format: 'jwk' })
  const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x!}","y":"${jwk.y!}"}`
  const kid = createHash('sha256').update(canonical).digest('base64url')
  const pubPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const pubFile = join(dir, `${name}.pub.pem`)
  const keyFile = join(dir, `${name}.key.pem`)
  writeFileSync(pubFile, pubPem)
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 })
  return { key: privateKey, kid, pubPem, pubFile, keyFile }
}

type CliJson = Record<string, unknown>
function lastJson (stdout: string): CliJson {
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]!) as CliJson
}

describe('car key lists: pairing, roles, phones, a change of owner (real TLS, MQTT, car and CLI processes)', function () {
  this.timeout(120_000)
  let pki: TestPki
  let broker: TestBroker
  let dir: string
  let carA: CarProcess
  let carB: CarProcess
  let vinA: string
  let vinB: string
  let ownerA: RawUserKey
  let ownerB: RawUserKey
  let phoneDir: string
  let backend: MqttClient
  let inbox: ResultInbox
  let url: string

  const phoneArgs = (keyFile: string, vin: string): string[] => ['--url', url, '--ca', join(pki.dir, 'root-ca.pem'),
    '--cert', join(phoneDir, 'cert.pem'), '--key', join(phoneDir, 'key.pem'), '--key-file', keyFile, '--vin', vin, '--json', '--timeout', '8s']
  const backendFlags = (): string[] => ['--url', url, '--ca', join(pki.dir, 'root-ca.pem'), '--cert', join(pki.backend, 'cert.pem'), '--key', join(pki.backend, 'key.pem')]

  async function phone (sub: string, keyFile: string, vin: string, extra: string[] = []) {
    const r = await runCli(['sim', 'phone', sub, ...phoneArgs(keyFile, vin), ...extra], { timeoutMs: 30_000 })
    return { ...r, out: r.stdout.trim() === '' ? {} : lastJson(r.stdout) }
  }

  async function backendKeys (vin: string): Promise<CliJson & { keys: Array<{ kid: string; role: string; label: string; until?: number }> }> {
    const r = await runCli(['sim', 'backend', 'keys', ...backendFlags(), '--vin', vin, '--json'])
    expect(r.code, r.stdout + r.stderr).to.equal(0)
    return lastJson(r.stdout) as CliJson & { keys: Array<{ kid: string; role: string; label: string }> }
  }

  async function backendSend (vin: string, jws: string, jti: string) {
    await backend.publishAsync(`vehicles/${vin}/commands`, jws, { qos: 1 })
    return await inbox.waitFor(vin, jti, 8000)
  }

  before(async () => {
    pki = await testPki()
    vinA = pki.vins[0]!
    vinB = pki.vins[1]!
    dir = mkdtempSync(join(tmpdir(), 'fg-carkeys-'))
    ownerA = rawUserKey(dir, 'owner-a')
    ownerB = rawUserKey(dir, 'owner-b')
    phoneDir = await pki.extra('phone-anna', 'phone', 'phone-anna')
    broker = await startTestBroker(pki.dir) // the edge check is on: kid commands pass it on shape and VIN
    url = `mqtts://localhost:${broker.port}`
    carA = await CarProcess.start(broker.port, pki.dir, pki.vehicle(0), vinA, ['--state-dir', join(dir, 'car-a'), '--pair', ownerA.pubFile, '--pair-label', 'Anna'])
    carB = await CarProcess.start(broker.port, pki.dir, pki.vehicle(1), vinB, ['--state-dir', join(dir, 'car-b'), '--pair', ownerB.pubFile])
    backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-keys' })
    await backend.subscribeAsync('vehicles/+/command-results', { qos: 1 })
    inbox = new ResultInbox(backend, resultVerifier(pki.dir))
  })

  after(async () => {
    await end(backend)
    await carA?.stop()
    await carB?.stop()
    await broker?.close()
  })

  it('the first owner is enrolled by the in-car step (--pair) and the fleet sees the list the car signed', async () => {
    await carA.waitFor((l) => l.evt === 'keys' && (l.change as CliJson).op === 'pair')
    const list = await backendKeys(vinA)
    expect(list.keys).to.deep.equal([
      { kid: 'ou:fleet-backend', role: 'fleet-manager', label: 'fleet backend' },
      { kid: ownerA.kid, role: 'owner', label: 'Anna' },
    ])
    expect(JSON.parse(readFileSync(join(dir, 'car-a', 'keys.json'), 'utf8')).keys).to.have.length(1)
  })

  it('a command signed by node:crypto alone with the kid header (no x5c) is executed, and its result names the key', async () => {
    const b = commandBody(vinA, 'unlock')
    const jws = rawJws({ alg: 'ES256', kid: ownerA.kid }, b, ownerA.key)
    const result = await backendSend(vinA, jws, b.jti)
    expect(result).to.deep.include({ status: 'executed', by: ownerA.kid })
    const line = await carA.waitFor((l) => l.evt === 'command' && l.jti === b.jti)
    expect(line).to.deep.include({ status: 'executed', cmd: 'unlock', by: ownerA.kid, role: 'owner' })
  })

  let phoneKey: string
  let phoneKid: string
  it('the owner pairs a phone (keygen, add-key as driver); the phone unlocks its own car and fails on another', async () => {
    phoneKey = join(dir, 'phone.key.pem')
    const kg = await runCli(['sim', 'phone', 'keygen', '--key-file', phoneKey, '--json'])
    expect(kg.code, kg.stderr).to.equal(0)
    phoneKid = lastJson(kg.stdout).kid as string
    expect(phoneKid).to.match(/^[A-Za-z0-9_-]{43}$/)
    expect((await runCli(['sim', 'phone', 'keygen', '--key-file', phoneKey])).code, 'never overwrites a key').to.equal(2)

    const add = await phone('add-key', ownerA.keyFile, vinA, ['--public', `${phoneKey}.pub.pem`, '--role', 'driver', '--label', 'Ben\'s phone'])
    expect(add.code, add.stdout + add.stderr).to.equal(0)
    expect(add.out).to.deep.include({ status: 'executed', by: ownerA.kid })
    expect(add.out.change).to.deep.include({ op: 'add_key', kid: phoneKid, role: 'driver', label: 'Ben\'s phone' })
    const list = await backendKeys(vinA)
    expect(list.keys.map((k) => [k.kid, k.role])).to.deep.include([phoneKid, 'driver'])

    const unlock = await phone('send', phoneKey, vinA, ['--cmd', 'unlock'])
    expect(unlock.code, unlock.stdout + unlock.stderr).to.equal(0)
    expect(unlock.out).to.deep.include({ status: 'executed', by: phoneKid })

    const other = await phone('send', phoneKey, vinB, ['--cmd', 'unlock'])
    expect(other.code).to.equal(1)
    expect(other.out).to.deep.include({ status: 'rejected', reason: 'unknown_key' })
    await carB.waitFor((l) => l.evt === 'command' && l.reason === 'unknown_key')
  })

  it('a driver may not do what its role does not give it: remote_start, add_key (role_forbids)', async () => {
    const start = await phone('send', phoneKey, vinA, ['--cmd', 'remote_start'])
    expect(start.out).to.deep.include({ status: 'rejected', reason: 'role_forbids', by: phoneKid })
    const extra = rawUserKey(dir, 'driver-extra')
    const add = await phone('add-key', phoneKey, vinA, ['--public', extra.pubFile, '--role', 'owner', '--label', 'mine now'])
    expect(add.code).to.equal(1)
    expect(add.out).to.deep.include({ status: 'rejected', reason: 'role_forbids' })
    expect((await backendKeys(vinA)).keys.map((k) => k.kid)).to.not.include(extra.kid)
  })

  it('a replayed add_key is refused (replayed), not applied twice', async () => {
    const extra = rawUserKey(dir, 'replayed')
    const { jws, payload } = await signCommand({ vin: vinA, cmd: 'add_key', args: { jwk: { kty: 'EC', crv: 'P-256', ...pick(extra.key) }, role: 'driver', label: 'once' }, ttlMs: 30_000 }, { key: ownerA.key, kid: ownerA.kid })
    expect((await backendSend(vinA, jws, payload.jti)).status).to.equal('executed')
    await backend.publishAsync(`vehicles/${vinA}/commands`, jws, { qos: 1 })
    const again = await carA.waitFor((l) => l.evt === 'command' && l.jti === payload.jti && l.status === 'rejected')
    expect(again.reason).to.equal('replayed')
    const rm = await phone('remove-key', ownerA.keyFile, vinA, ['--kid', extra.kid])
    expect(rm.code, rm.stdout).to.equal(0)
  })

  it('a service key works in its window only; afterwards it is unknown_key', async () => {
    const svc = rawUserKey(dir, 'service')
    const add = await phone('add-key', ownerA.keyFile, vinA, ['--public', svc.pubFile, '--role', 'service', '--label', 'garage', '--for', '8s'])
    expect(add.code, add.stdout + add.stderr).to.equal(0)
    const diag = await phone('send', svc.keyFile, vinA, ['--cmd', 'diagnostics'])
    expect(diag.out).to.deep.include({ status: 'executed', by: svc.kid })
    const unlock = await phone('send', svc.keyFile, vinA, ['--cmd', 'unlock'])
    expect(unlock.out).to.deep.include({ status: 'rejected', reason: 'role_forbids' })
    const left = (add.out.change as { until: number }).until - Date.now()
    if (left > -100) await new Promise((resolve) => setTimeout(resolve, left + 300))
    const late = await phone('send', svc.keyFile, vinA, ['--cmd', 'diagnostics'])
    expect(late.out).to.deep.include({ status: 'rejected', reason: 'unknown_key' })
    // and a service key without a window is refused at add_key
    const open = await phone('add-key', ownerA.keyFile, vinA, ['--public', rawUserKey(dir, 'service2').pubFile, '--role', 'service', '--label', 'forever'])
    expect(open.out).to.deep.include({ status: 'rejected', reason: 'bad_args' })
  })

  it('the owner removes the phone: its next command is refused (unknown_key); the last owner cannot be removed', async () => {
    const rm = await phone('remove-key', ownerA.keyFile, vinA, ['--kid', phoneKid])
    expect(rm.code, rm.stdout + rm.stderr).to.equal(0)
    expect(rm.out.change).to.deep.include({ op: 'remove_key', kid: phoneKid })
    const next = await phone('send', phoneKey, vinA, ['--cmd', 'unlock'])
    expect(next.code).to.equal(1)
    expect(next.out).to.deep.include({ status: 'rejected', reason: 'unknown_key' })
    const last = await phone('remove-key', ownerA.keyFile, vinA, ['--kid', ownerA.kid])
    expect(last.out).to.deep.include({ status: 'rejected', reason: 'bad_args' })
    expect((await backendKeys(vinA)).keys.map((k) => k.kid)).to.deep.equal(['ou:fleet-backend', ownerA.kid])
  })

  it('the backend is one entry with the role the car gives it: fleet operations yes, the key list no', async () => {
    const signer = rawSigner(pki.backend)
    const ok = commandBody(vinA, 'flash_lights')
    expect(await backendSend(vinA, sign(signer, ok), ok.jti)).to.deep.include({ status: 'executed' })
    const intruder = rawUserKey(dir, 'backend-intruder')
    const jwk = { kty: 'EC', crv: 'P-256', ...pick(intruder.key) }
    const add = commandBody(vinA, 'add_key', { args: { jwk, role: 'owner', label: 'cloud' } })
    const r = await backendSend(vinA, sign(signer, add), add.jti)
    expect(r).to.deep.include({ status: 'rejected', reason: 'role_forbids' })
    expect(r.by).to.match(/^[A-Za-z0-9_-]{43}$/) // the thumbprint of the backend certificate's key
  })

  it('a car whose policy gives the backend the driver role refuses it remote_start (role_forbids) but not unlock', async () => {
    const vinC = pki.vins[2]!
    const carC = await CarProcess.start(broker.port, pki.dir, pki.vehicle(2), vinC, ['--backend-role', 'driver'])
    try {
      const signer = rawSigner(pki.backend)
      const start = commandBody(vinC, 'remote_start')
      expect(await backendSend(vinC, sign(signer, start), start.jti)).to.deep.include({ status: 'rejected', reason: 'role_forbids' })
      const unlock = commandBody(vinC, 'unlock')
      expect(await backendSend(vinC, sign(signer, unlock), unlock.jti)).to.deep.include({ status: 'executed' })
    } finally {
      await carC.stop()
    }
  })

  it('a transfer to a new owner locks the old one out; the backend entry stays', async () => {
    const newOwner = rawUserKey(dir, 'new-owner')
    // a driver paired before the sale goes too
    const driver = rawUserKey(dir, 'old-driver')
    expect((await phone('add-key', ownerA.keyFile, vinA, ['--public', driver.pubFile, '--role', 'driver', '--label', 'old family'])).code).to.equal(0)
    const t = await phone('transfer', ownerA.keyFile, vinA, ['--public', newOwner.pubFile, '--label', 'Chris'])
    expect(t.code, t.stdout + t.stderr).to.equal(0)
    expect(t.out.change).to.deep.include({ op: 'transfer', kid: newOwner.kid, role: 'owner' })
    expect((await backendKeys(vinA)).keys).to.deep.equal([
      { kid: 'ou:fleet-backend', role: 'fleet-manager', label: 'fleet backend' },
      { kid: newOwner.kid, role: 'owner', label: 'Chris' },
    ])
    for (const old of [ownerA, driver]) {
      const r = await phone('send', old.keyFile, vinA, ['--cmd', 'unlock'])
      expect(r.out, 'previous owner\'s keys').to.deep.include({ status: 'rejected', reason: 'unknown_key' })
    }
    expect((await phone('send', newOwner.keyFile, vinA, ['--cmd', 'unlock'])).out).to.deep.include({ status: 'executed', by: newOwner.kid })
    const b = commandBody(vinA, 'lock')
    expect(await backendSend(vinA, sign(rawSigner(pki.backend), b), b.jti)).to.deep.include({ status: 'executed' })
  })

  it('the key list survives a restart of the car (state dir)', async () => {
    await carA.stop()
    carA = await CarProcess.start(broker.port, pki.dir, pki.vehicle(0), vinA, ['--state-dir', join(dir, 'car-a')])
    const r = await phone('send', ownerA.keyFile, vinA, ['--cmd', 'unlock'])
    expect(r.out).to.deep.include({ status: 'rejected', reason: 'unknown_key' })
    expect((await backendKeys(vinA)).keys.map((k) => k.label)).to.deep.equal(['fleet backend', 'Chris'])
  })

  it('a scrapped car: its certificate revoked (its session ends) and its list wiped', async () => {
    const vinD = pki.vins[3]!
    const stateD = join(dir, 'car-d')
    const ownerD = rawUserKey(dir, 'owner-d')
    const carD = await CarProcess.start(broker.port, pki.dir, pki.vehicle(3), vinD, ['--state-dir', stateD, '--pair', ownerD.pubFile])
    try {
      const scrap = await runCli(['sim', 'scrap', '--cert', join(pki.vehicle(3), 'cert.pem'), '--state-dir', stateD, '--data-dir', broker.config.dataDir!])
      expect(scrap.code, scrap.stderr).to.equal(0)
      expect(scrap.stdout).to.match(/revoked certificate/).and.match(/wiped the key list/)
      await carD.waitFor((l) => l.evt === 'offline', 10_000)
      const list = JSON.parse(readFileSync(join(stateD, 'keys.json'), 'utf8')) as { keys: unknown[]; wiped: boolean }
      expect(list).to.deep.include({ keys: [], wiped: true })
    } finally {
      await carD.stop('SIGKILL')
    }
    expect(existsSync(join(stateD, 'keys.json'))).to.equal(true)
  })

  it('bad input to the phone commands is one line and exit 2', async () => {
    for (const args of [
      ['sim', 'phone', 'send', ...phoneArgs(join(dir, 'nope.pem'), vinA), '--cmd', 'unlock'],
      ['sim', 'phone', 'add-key', ...phoneArgs(ownerA.keyFile, vinA), '--public', ownerA.pubFile, '--role', 'fleet-manager', '--label', 'x'],
      ['sim', 'phone', 'remove-key', ...phoneArgs(ownerA.keyFile, vinA), '--kid', 'short'],
      ['sim', 'car', '--url', url, '--ca', join(pki.dir, 'root-ca.pem'), '--cert', join(pki.vehicle(0), 'cert.pem'), '--key', join(pki.vehicle(0), 'key.pem'), '--pair', join(pki.vehicle(0), 'cert.pem')],
    ]) {
      const r = await runCli(args)
      expect(r.code, args.join(' ') + r.stderr).to.equal(2)
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1)
    }
  })
})

/** x and y of a P-256 key as JWK members */
function pick (key: KeyObject): { x: string; y: string } {
  const j = key.export({ format: 'jwk' })
  return { x: j.x!, y: j.y! }
}
