// Provisioning and rotation through the real thing (README "Provisioning and
// rotation", registry certs:<VIN>): the fleetgate broker (in process, Redis
// store), a real `fleetgate provisioner` child process, a throwaway
// redis-server, CSRs made by the openssl CLI, MQTT.js clients over mTLS.
import { expect } from 'chai'
import { execFileSync, spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { tryConnect, closed, end } from '../harness/mqtt.js'
import { startCli, stopChild } from '../harness/cli.js'
import { randomVin } from '../../src/pki/index.js'
import { exchange } from '../../simulator/provisioning.js'
import type { ProvisioningResponse, IssuedResponse } from '../../src/provisioning/index.js'

type Line = Record<string, unknown>

function openssl (args: string[], input?: string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
}

describe('provisioning (broker + provisioner process + redis)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let redis: TestRedis
  let broker: TestBroker
  let prov: { child: ChildProcess; stdout: () => string; stderr: () => string }
  let db: Redis
  let work: string
  let root: Buffer
  const open: MqttClient[] = []

  const lines = (): Line[] => prov.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line)
  async function provLine (evt: string, match: Line, timeoutMs = 8000): Promise<Line> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = lines().find((l) => l.evt === evt && Object.entries(match).every(([k, v]) => l[k] === v))
      if (hit) return hit
      if (Date.now() > deadline) throw new Error(`no provisioner line ${evt} ${JSON.stringify(match)}; saw ${lines().map((l) => `${String(l.evt)}:${String(l.reason ?? '')}`).join(', ')}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** a fresh VIN with its own birth certificate (manufacturing CA, OU=factory) */
  async function newBirth (name: string): Promise<{ vin: string; dir: string }> {
    const vin = randomVin()
    return { vin, dir: await pki.extra(`birth-${name}`, 'factory', vin) }
  }

  async function connectWith (certPem: string | Buffer, keyPem: string | Buffer, clientId: string) {
    const o = await tryConnect(broker.port, { ca: root, cert: Buffer.from(certPem), key: Buffer.from(keyPem) }, { clientId })
    if (o.ok) open.push(o.client)
    return o
  }

  async function birthClient (b: { vin: string; dir: string }): Promise<MqttClient> {
    const o = await connectWith(readFileSync(join(b.dir, 'cert.pem')), readFileSync(join(b.dir, 'key.pem')), b.vin)
    if (!o.ok) throw new Error(`birth connect refused: ${o.error}`)
    return o.client
  }

  /** an openssl EC key (SEC1 PEM, openssl's default) and a CSR for it */
  function opensslCsr (name: string, subj: string, opts: { curve?: string; rsa?: boolean; addext?: string[] } = {}): { keyPath: string; csr: string } {
    const keyPath = join(work, `${name}.key`)
    if (opts.rsa) {
      openssl(['genrsa', '-out', keyPath, '2048'])
    } else {
      openssl(['ecparam', '-name', opts.curve ?? 'prime256v1', '-genkey', '-noout', '-out', keyPath])
    }
    const csr = openssl(['req', '-new', '-key', keyPath, '-subj', subj, ...(opts.addext ?? []).flatMap((e) => ['-addext', e])])
    return { keyPath, csr }
  }

  async function request (client: MqttClient, vin: string, csr: string, channel: 'provision' | 'rotate' = 'provision', nonce?: string): Promise<ProvisioningResponse> {
    return await exchange(client, channel, vin, csr, { nonce, timeoutMs: 10_000 })
  }

  function issued (r: ProvisioningResponse): IssuedResponse {
    if (r.status !== 'issued') throw new Error(`expected issued, got ${JSON.stringify(r)}`)
    return r
  }

  function fingerprint (pem: string): string {
    return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase()
  }

  async function registry (vin: string): Promise<Record<string, { state: string; serial: string }>> {
    const all = await db.hgetall(`fleetgate:certs:${vin}`)
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as { state: string; serial: string }]))
  }

  async function waitState (vin: string, fp: string, state: string, timeoutMs = 8000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while ((await registry(vin))[fp]?.state !== state) {
      if (Date.now() > deadline) throw new Error(`registry ${vin} ${fp.slice(0, 12)} never reached ${state}: ${JSON.stringify(await registry(vin))}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  before(async function () {
    pki = await testPki()
    work = mkdtempSync(join(tmpdir(), 'fg-prov-'))
    root = readFileSync(join(pki.dir, 'root-ca.pem'))
    redis = await startRedis()
    db = new Redis(redis.url)
    broker = await startTestBroker(pki.dir, { redis: redis.url, maxConnectionsPerIp: 200 })
    // the issuing CA key as SEC1 (`EC PRIVATE KEY`), openssl's default for EC keys
    const sec1 = join(work, 'issuing-sec1.key')
    openssl(['ec', '-in', join(pki.dir, 'issuing-ca.key'), '-out', sec1])
    expect(readFileSync(sec1, 'utf8')).to.contain('BEGIN EC PRIVATE KEY')
    prov = await startCli([
      'provisioner', '--url', `mqtts://127.0.0.1:${broker.port}`, '--ca', join(pki.dir, 'root-ca.pem'),
      '--cert', join(pki.provisioner, 'cert.pem'), '--key', join(pki.provisioner, 'key.pem'),
      '--issuer-cert', join(pki.dir, 'issuing-ca.pem'), '--issuer-key', sec1,
      '--redis', redis.url, '--rate-limit', '3/h', '--grace', '1h', '--cert-lifetime', '2h',
    ], /fleetgate provisioner: /)
  })

  afterEach(async function () { await end(...open.splice(0)) })

  after(async function () {
    await stopChild(prov?.child)
    await broker?.close()
    await db?.quit()
    await redis?.stop()
  })

  it('provisions an openssl CSR over a birth certificate; the car connects with the new certificate, which becomes active', async function () {
    const b = await newBirth('openssl')
    const { keyPath, csr } = opensslCsr('car1', `/CN=${b.vin}`)
    const client = await birthClient(b)
    const r = issued(await request(client, b.vin, csr))
    // the certificate chains to the root (openssl), is CN=<VIN>, OU=vehicle
    writeFileSync(join(work, 'car1.pem'), r.certificate)
    writeFileSync(join(work, 'car1-chain.pem'), r.chain)
    expect(openssl(['verify', '-CAfile', join(pki.dir, 'root-ca.pem'), '-untrusted', join(work, 'car1-chain.pem'), join(work, 'car1.pem')])).to.contain(': OK')
    const leaf = new X509Certificate(r.certificate)
    expect(leaf.subject).to.equal(`O=fleetgate dev\nOU=vehicle\nCN=${b.vin}`)
    expect(leaf.ca).to.equal(false)
    expect(Date.parse(leaf.validTo) - Date.now()).to.be.within(2 * 3600_000 - 120_000, 2 * 3600_000 + 1000)
    const fp = fingerprint(r.certificate)
    expect((await registry(b.vin))[fp]?.state).to.equal('issued')
    await provLine('provision.issued', { vin: b.vin, fp })

    // the car switches: connects with the new certificate (Node's TLS accepts it), the broker marks it active
    const car = await connectWith(r.certificate + r.chain, readFileSync(keyPath), b.vin)
    expect(car.ok, car.ok ? '' : car.error).to.equal(true)
    await broker.audit.waitFor('registry.first_connect', { vin: b.vin, fp })
    await waitState(b.vin, fp, 'active')
    // no key material in the provisioner's log
    expect(prov.stdout()).to.not.match(/PRIVATE KEY|CERTIFICATE REQUEST|BEGIN CERTIFICATE/)
  })

  it('subject_mismatch: the CSR names another VIN', async function () {
    const b = await newBirth('mismatch')
    const { csr } = opensslCsr('mismatch', `/CN=${randomVin()}`)
    const r = await request(await birthClient(b), b.vin, csr)
    expect(r).to.deep.include({ status: 'rejected', reason: 'subject_mismatch' })
    await provLine('provision.rejected', { vin: b.vin, reason: 'subject_mismatch' })
    expect(await registry(b.vin)).to.deep.equal({})
  })

  it('bad_csr: a CSR whose self-signature does not hold (no proof of possession)', async function () {
    const b = await newBirth('badsig')
    const { csr } = opensslCsr('badsig', `/CN=${b.vin}`)
    const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
    der[der.length - 1] ^= 0x01 // last byte of the signature's s: the structure holds, the signature does not
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`
    // openssl agrees the signature fails (OpenSSL 3.0 says so on stderr, exit 0)
    const check = spawnSync('openssl', ['req', '-in', '-', '-noout', '-verify'], { input: forged, encoding: 'utf8' })
    expect(check.stdout + check.stderr).to.match(/verify failure/)
    const r = await request(await birthClient(b), b.vin, forged)
    expect(r).to.deep.include({ status: 'rejected', reason: 'bad_csr' })
    await provLine('provision.rejected', { vin: b.vin, reason: 'bad_csr' })
    expect(await registry(b.vin)).to.deep.equal({})
  })

  it('key_not_allowed: RSA and P-384 keys', async function () {
    const b = await newBirth('keys')
    const client = await birthClient(b)
    const rsa = opensslCsr('rsa', `/CN=${b.vin}`, { rsa: true })
    expect(await request(client, b.vin, rsa.csr)).to.deep.include({ status: 'rejected', reason: 'key_not_allowed' })
    const p384 = opensslCsr('p384', `/CN=${b.vin}`, { curve: 'secp384r1' })
    expect(await request(client, b.vin, p384.csr)).to.deep.include({ status: 'rejected', reason: 'key_not_allowed' })
    const rejected = lines().filter((l) => l.evt === 'provision.rejected' && l.vin === b.vin && l.reason === 'key_not_allowed')
    expect(rejected).to.have.length(2)
  })

  it('a CSR asking for OU=fleet-backend and CA:true is issued as a plain vehicle certificate', async function () {
    const b = await newBirth('greedy')
    const { keyPath, csr } = opensslCsr('greedy', `/O=evil/OU=fleet-backend/CN=${b.vin}`, {
      addext: ['basicConstraints=critical,CA:true', 'extendedKeyUsage=serverAuth,codeSigning', `subjectAltName=DNS:broker.example`],
    })
    const r = issued(await request(await birthClient(b), b.vin, csr))
    const leaf = new X509Certificate(r.certificate)
    expect(leaf.subject).to.equal(`O=fleetgate dev\nOU=vehicle\nCN=${b.vin}`)
    expect(leaf.ca).to.equal(false)
    expect(leaf.subjectAltName).to.equal(undefined)
    const text = openssl(['x509', '-noout', '-ext', 'basicConstraints,extendedKeyUsage,keyUsage'], r.certificate)
    expect(text).to.match(/CA:FALSE/).and.to.match(/TLS Web Client Authentication/).and.to.not.match(/Server Authentication|Code Signing/)
    // and it is a vehicle to the broker: the vehicle role, not a backend's
    const car = await connectWith(r.certificate + r.chain, readFileSync(keyPath), b.vin)
    expect(car.ok).to.equal(true)
    const allow = await broker.audit.waitFor('connect.allow', { role: 'vehicle' })
    expect(allow, 'connect.allow line').to.be.an('object')
  })

  it('a birth certificate can publish telemetry nowhere and read no other car\'s responses', async function () {
    const b = await newBirth('birth-acl')
    const other = await newBirth('birth-acl-other')
    const client = await birthClient(b)
    // another car's provisioning response: SUBACK 0x80
    const granted = await client.subscribeAsync(`provisioning/${other.vin}/response`, { qos: 1 }).then(() => [], (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? [])
    expect(granted).to.deep.equal([128])
    await broker.audit.waitFor('subscribe.deny', { reason: 'filter_denied', filter: `provisioning/${other.vin}/response` })
    // its own vehicle topics: SUBACK 0x80 too
    const granted2 = await client.subscribeAsync(`vehicles/${b.vin}/certificate/response`, { qos: 1 }).then(() => [], (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? [])
    expect(granted2).to.deep.equal([128])
    // telemetry: the connection is closed
    client.publish(`vehicles/${b.vin}/telemetry/speed`, '{"v":1}', { qos: 1 })
    await closed(client)
    await broker.audit.waitFor('publish.deny', { reason: 'topic_denied', topic: `vehicles/${b.vin}/telemetry/speed` })
  })

  it('a replayed nonce returns the same certificate and leaves the registry unchanged', async function () {
    const b = await newBirth('replay')
    const { csr } = opensslCsr('replay', `/CN=${b.vin}`)
    const client = await birthClient(b)
    const nonce = '6f1c2b8e-0d2f-4a4e-9d7a-3f1f0e5a9b10'
    const first = issued(await request(client, b.vin, csr, 'provision', nonce))
    const before = await registry(b.vin)
    const second = issued(await request(client, b.vin, csr, 'provision', nonce))
    expect(second.certificate).to.equal(first.certificate)
    expect(await registry(b.vin)).to.deep.equal(before)
    expect(Object.keys(before)).to.have.length(1)
    await provLine('provision.replayed', { vin: b.vin, nonce })
    expect(lines().filter((l) => l.evt === 'provision.issued' && l.vin === b.vin)).to.have.length(1)
  })

  it('rate_limited: the fourth request of a VIN within the window that passed the CSR checks (--rate-limit 3/h); refused ones do not count', async function () {
    const b = await newBirth('rate')
    const client = await birthClient(b)
    const { csr } = opensslCsr('rate', `/CN=${randomVin()}`) // refused by the CSR checks: not counted
    for (let i = 0; i < 4; i++) expect(await request(client, b.vin, csr)).to.deep.include({ reason: 'subject_mismatch' })
    for (let i = 0; i < 3; i++) issued(await request(client, b.vin, opensslCsr(`rate-good-${i}`, `/CN=${b.vin}`).csr))
    const fourth = opensslCsr('rate-good', `/CN=${b.vin}`)
    expect(await request(client, b.vin, fourth.csr)).to.deep.include({ status: 'rejected', reason: 'rate_limited' })
    await provLine('provision.rejected', { vin: b.vin, reason: 'rate_limited' })
    expect(Object.keys(await registry(b.vin))).to.have.length(3)
  })

  it('rotation: once the new certificate has connected, the old one is superseded, revoked and refused', async function () {
    const b = await newBirth('rotate')
    const first = opensslCsr('rot1', `/CN=${b.vin}`)
    const r1 = issued(await request(await birthClient(b), b.vin, first.csr))
    const fp1 = fingerprint(r1.certificate)
    const car1 = await connectWith(r1.certificate + r1.chain, readFileSync(first.keyPath), b.vin)
    if (!car1.ok) throw new Error(car1.error)
    await waitState(b.vin, fp1, 'active')
    // rotate over the operational connection
    const second = opensslCsr('rot2', `/CN=${b.vin}`)
    const r2 = issued(await request(car1.client, b.vin, second.csr, 'rotate'))
    const fp2 = fingerprint(r2.certificate)
    expect((await registry(b.vin))[fp1]?.state).to.equal('active') // kept until the new one connects (grace 1h)
    await provLine('provision.issued', { vin: b.vin, channel: 'rotate', fp: fp2 })
    // the old one still works until the new one connects
    await end(car1.client)
    const stillOk = await connectWith(r1.certificate + r1.chain, readFileSync(first.keyPath), b.vin)
    expect(stillOk.ok).to.equal(true)
    if (stillOk.ok) await end(stillOk.client)
    // switch
    const car2 = await connectWith(r2.certificate + r2.chain, readFileSync(second.keyPath), b.vin)
    expect(car2.ok).to.equal(true)
    await waitState(b.vin, fp1, 'revoked')
    expect((await registry(b.vin))[fp2]?.state).to.equal('active')
    await provLine('provision.retired', { vin: b.vin, fp: fp1, reason: 'superseded', trigger: 'first_connect' })
    expect(JSON.parse((await db.hget('fleetgate:revoked:cert', fp1))!)).to.include({ reason: 'superseded' })
    // the old certificate is refused now
    const old = await connectWith(r1.certificate + r1.chain, readFileSync(first.keyPath), `${b.vin}`)
    expect(old.ok).to.equal(false)
    if (!old.ok) expect(old.returnCode).to.equal(5)
    const deny = await broker.audit.waitFor('connect.deny', { reason: 'revoked' })
    expect(deny, 'connect.deny line').to.be.an('object')
  })

  it('re-provisioning with the birth certificate revokes every earlier certificate and cuts a live session of one', async function () {
    const b = await newBirth('reprov')
    const first = opensslCsr('rep1', `/CN=${b.vin}`)
    const nonce = '0b7e4a52-9f1e-4c33-8a0d-5e2f7c1d3b99'
    const r1 = issued(await request(await birthClient(b), b.vin, first.csr))
    const fp1 = fingerprint(r1.certificate)
    await end(...open.splice(0))
    // hold the provisioner still so the thief's session is live when the revocation lands
    prov.child.kill('SIGSTOP')
    try {
      const birth = await birthClient(b)
      await birth.subscribeAsync(`provisioning/${b.vin}/response`, { qos: 1 })
      const second = opensslCsr('rep2', `/CN=${b.vin}`)
      await new Promise<void>((resolve, reject) => birth.publish(`provisioning/${b.vin}/request`, JSON.stringify({ v: 1, nonce, csr: second.csr }), { qos: 1 }, (err) => err ? reject(err) : resolve()))
      await end(birth)
      // whoever holds the earlier key connects with it (clientId = the VIN)
      const thief = await connectWith(r1.certificate + r1.chain, readFileSync(first.keyPath), b.vin)
      if (!thief.ok) throw new Error(thief.error)
      broker.audit.clear()
      prov.child.kill('SIGCONT')
      // the provisioner answers the queued request: the earlier certificate is revoked, the live session closed
      await closed(thief.client, 8000)
      const kick = await broker.audit.waitFor('revocation.kick', { reason: 'revoked' })
      expect((kick.cert as { fp?: string }).fp).to.equal(fp1)
      await provLine('provision.retired', { vin: b.vin, fp: fp1, reason: 'keyCompromise', trigger: 'reprovision' })
      await waitState(b.vin, fp1, 'revoked')
      const again = await connectWith(r1.certificate + r1.chain, readFileSync(first.keyPath), b.vin)
      expect(again.ok).to.equal(false)
      // the car, back with its birth certificate, gets its new certificate by the same nonce
      const birth2 = await birthClient(b)
      const r2 = issued(await request(birth2, b.vin, second.csr, 'provision', nonce))
      const fp2 = fingerprint(r2.certificate)
      expect((await registry(b.vin))[fp2]?.state).to.equal('issued')
    } finally {
      prov.child.kill('SIGCONT')
    }
  })

  it('malformed: bad JSON gets no answer; a readable nonce gets `malformed`', async function () {
    const b = await newBirth('malformed')
    const client = await birthClient(b)
    await client.subscribeAsync(`provisioning/${b.vin}/response`, { qos: 1 })
    const got: string[] = []
    client.on('message', (_t, p) => got.push(p.toString()))
    await client.publishAsync(`provisioning/${b.vin}/request`, '{not json', { qos: 1 })
    await client.publishAsync(`provisioning/${b.vin}/request`, JSON.stringify({ v: 1, nonce: 'n-1' }), { qos: 1 })
    await client.publishAsync(`provisioning/${b.vin}/request`, JSON.stringify({ v: 1, nonce: 'n-2', csr: 'x'.repeat(17 * 1024) }), { qos: 1 })
    await provLine('provision.rejected', { vin: b.vin, reason: 'malformed', nonce: 'n-1' })
    await provLine('provision.rejected', { vin: b.vin, reason: 'malformed', detail: 'over 16 KiB' })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(got.map((g) => JSON.parse(g) as Line)).to.deep.equal([{ v: 1, nonce: 'n-1', status: 'rejected', reason: 'malformed' }])
  })
})
