// Hot reload on SIGHUP, through a real `fleetgate serve` process and a real
// signal: certificate, key, trust bundle and policy; live sessions the new
// policy no longer admits are closed (policy_changed); bad files keep the old
// configuration and say why in one line.
import { expect } from 'chai'
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import type { MqttClient } from 'mqtt'
import { startCli, stopChild } from '../harness/cli.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { credentials, connect, tryConnect, closed, end } from '../harness/mqtt.js'
import { defaultPolicyPath } from '../../src/policy/index.js'
import { loadCa, issueLeaf } from '../../src/pki/index.js'

async function until (what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ' + what)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** fingerprint of the certificate a new connection is served */
async function servedFingerprint (port: number, opts: ConnectionOptions): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...opts })
    s.once('secureConnect', () => { resolve(s.getPeerCertificate().fingerprint256); s.destroy() })
    s.once('error', reject)
  })
}

const colonFp = (pem: string) => new X509Certificate(pem).fingerprint256

describe('reload on SIGHUP (fleetgate serve)', function () {
  this.timeout(40_000)
  let pki: TestPki
  let dir: string
  let child: ChildProcess | undefined
  let stderr: () => string
  let stdout: () => string
  let port: number
  const clients: MqttClient[] = []
  const files = () => ({ ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), policy: join(dir, 'policy.yaml') })

  before(async () => {
    pki = await testPki()
    dir = mkdtempSync(join(tmpdir(), 'fg-reload-'))
    const f = files()
    copyFileSync(join(pki.dir, 'root-ca.pem'), f.ca)
    copyFileSync(join(pki.dir, 'broker', 'cert.pem'), f.cert)
    copyFileSync(join(pki.dir, 'broker', 'key.pem'), f.key)
    copyFileSync(defaultPolicyPath, f.policy)
    const s = await startCli(['serve', '--port', '0', '--host', '127.0.0.1', '--ca', f.ca, '--cert', f.cert, '--key', f.key, '--policy', f.policy,
      '--data-dir', join(dir, 'data')], /mTLS MQTT on 127\.0\.0\.1:(\d+)/)
    child = s.child; stderr = s.stderr; stdout = s.stdout
    port = Number(s.match[1])
  })
  after(async () => {
    await end(...clients.splice(0))
    await stopChild(child)
  })

  const hup = async (expect: RegExp) => {
    const before = stderr().length
    process.kill(child!.pid!, 'SIGHUP')
    await until('reload line ' + expect, () => expect.test(stderr().slice(before)))
    return stderr().slice(before)
  }
  const auditLines = () => stdout().split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l) as Record<string, unknown> } catch { return {} } })

  it('keeps the old configuration when a reloaded file is bad, and says why in one line', async () => {
    const car = await connect(port, credentials(pki.dir, pki.vehicle(0)), { clientId: pki.vins[0] })
    clients.push(car)
    writeFileSync(files().policy, 'roles:\n  vehicle:\n    match: { subject: { OU: vehicle } }\n    clientId: "${subject.CN}"\n    publsh: ["a"]\n')
    const out = await hup(/reload failed/)
    const lines = out.trim().split('\n')
    expect(lines, out).to.have.length(1)
    expect(lines[0]).to.match(/^fleetgate: reload failed, old configuration kept: FG_ERR_POLICY_UNKNOWN_KEY: .*policy\.yaml:5: .*"publsh"/)
    await until('reload.fail audit line', () => auditLines().some((l) => l.evt === 'reload.fail'))
    // Nothing changed: the car is still connected and a backend is still admitted.
    expect(car.connected).to.equal(true)
    const backend = await tryConnect(port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-probe' })
    expect(backend.ok).to.equal(true)
    if (backend.ok) await end(backend.client)
  })

  it('a narrower policy closes a backend whose role was removed (policy_changed); the vehicle stays connected', async () => {
    const car = clients[0]!
    const backend = await connect(port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-live' })
    clients.push(backend)
    const policy = readFileSync(defaultPolicyPath, 'utf8').replace(/\n {2}# A fleet backend[\s\S]*?(?=\n {2}# A monitor)/, '\n')
    expect(policy).to.not.match(/fleet-backend:/)
    writeFileSync(files().policy, policy)
    const out = await hup(/reloaded/)
    expect(out).to.match(/1 closed/)
    await closed(backend, 3000)
    await until('policy.kick audit line', () => auditLines().some((l) => l.evt === 'policy.kick' && l.reason === 'policy_changed'))
    await new Promise((r) => setTimeout(r, 300))
    expect(car.connected).to.equal(true)
    await car.publishAsync(`vehicles/${pki.vins[0]}/telemetry/speed`, '1', { qos: 1 })
    // New connections get the new policy too.
    const again = await tryConnect(port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-again' })
    expect(again.ok).to.equal(false)
    if (!again.ok) expect(again.returnCode).to.equal(5)
  })

  it('serves a new server certificate to new connections while an old connection stays up', async () => {
    const car = clients[0]!
    const creds = credentials(pki.dir, pki.vehicle(1))
    const oldFp = await servedFingerprint(port, creds)
    expect(oldFp).to.equal(colonFp(readFileSync(join(pki.dir, 'broker', 'cert.pem'), 'utf8')))
    const leaf = await issueLeaf(await loadCa(pki.dir, 'issuing'), 'server', 'fleetgate-broker-reloaded')
    writeFileSync(files().cert, leaf.chainPem)
    writeFileSync(files().key, leaf.keyPem!)
    await hup(/reloaded/)
    const newFp = await servedFingerprint(port, creds)
    expect(newFp).to.equal(colonFp(leaf.certPem))
    expect(car.connected).to.equal(true)
    await car.publishAsync(`vehicles/${pki.vins[0]}/telemetry/speed`, '2', { qos: 1 })
  })

  it('a trust bundle that no longer holds a session\'s root closes it (policy_changed) and refuses that PKI at TLS', async () => {
    const car = clients[0]!
    writeFileSync(files().ca, readFileSync(join(pki.dir, 'rogue', 'ca.pem')))
    const before = auditLines().filter((l) => l.evt === 'policy.kick').length
    await hup(/reloaded/)
    await closed(car, 3000)
    await until('second policy.kick', () => auditLines().filter((l) => l.evt === 'policy.kick').length > before)
    const fresh = await tryConnect(port, credentials(pki.dir, pki.vehicle(2)), { clientId: pki.vins[2] })
    expect(fresh.ok).to.equal(false)
    if (!fresh.ok) expect(fresh.returnCode).to.equal(undefined) // refused in the handshake, never reached MQTT
  })
})
