// ARCHITECTURE.md steps 1-6: who reaches MQTT, and how each refusal looks to the client.
import { expect } from 'chai'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { checkIdentity, identityFromChain, caInfoOf } from '../../src/identity/index.js'
import { testPki, subject, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, tryConnect, end, connect, closed } from '../harness/mqtt.js'

describe('mTLS connect (ARCHITECTURE.md steps 1-6)', function () {
  let pki: TestPki
  let broker: TestBroker
  let vin: string

  before(async () => {
    pki = await testPki()
    vin = pki.vins[0]!
    broker = await startTestBroker(pki.dir)
  })
  after(async () => { await broker?.close() })
  beforeEach(() => broker.audit.clear())

  async function refusedAtConnect (certDir: string, clientId: string, reason: string, opts = {}) {
    const o = await tryConnect(broker.port, credentials(pki.dir, certDir), { clientId, ...opts })
    expect(o.ok, 'connection should be refused').to.equal(false)
    if (!o.ok) expect(o.returnCode, o.error).to.equal(5) // CONNACK 5: not authorised
    const line = await broker.audit.waitFor('connect.deny', { reason })
    expect(line.reason).to.equal(reason)
    expect(broker.audit.find('connect.allow')).to.have.length(0)
  }

  async function refusedAtTls (creds: { ca: Buffer; cert?: Buffer; key?: Buffer }, clientId = vin) {
    const o = await tryConnect(broker.port, creds, { clientId })
    expect(o.ok).to.equal(false)
    if (!o.ok) expect(o.returnCode).to.equal(undefined) // never reached MQTT
    expect(broker.audit.find('connect.allow')).to.have.length(0)
    expect(broker.audit.find('connect.deny')).to.have.length(0)
  }

  it('admits a vehicle with its own certificate and clientId = VIN', async () => {
    const c = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
    const line = await broker.audit.waitFor('connect.allow')
    expect(line.role).to.equal('vehicle')
    expect((line.cert as { cn: string }).cn).to.equal(vin)
    await end(c)
  })

  it('refuses a client with no certificate during the TLS handshake', async () => {
    await refusedAtTls({ ca: readFileSync(join(pki.dir, 'root-ca.pem')) })
  })

  it('refuses the rogue-CA look-alike during the TLS handshake', async () => {
    await refusedAtTls(credentials(pki.dir, join(pki.dir, 'rogue', 'vehicle')))
  })

  it('refuses an expired certificate during the TLS handshake', async () => {
    await refusedAtTls(credentials(pki.dir, join(pki.dir, 'attack', 'expired')), pki.vins[1])
  })

  it('refuses a leaf with no EKU extension (OpenSSL lets it through TLS): no_client_auth', async () => {
    await refusedAtConnect(join(pki.dir, 'attack', 'no-eku'), vin, 'no_client_auth')
  })

  it('refuses a leaf whose EKU is serverAuth only: in the TLS handshake, and fleetgate\'s own CONNECT check refuses it too (no_client_auth)', async () => {
    const dir = join(pki.dir, 'attack', 'server-eku')
    // the shipped listener: OpenSSL's client-purpose check ends the handshake; MQTT is never reached
    await refusedAtTls(credentials(pki.dir, dir))
    await broker.audit.waitFor('tls.deny')
    // the same VIN's certificate with clientAuth is admitted: only the EKU differs
    await end(await connect(broker.port, credentials(pki.dir, join(pki.dir, 'attack', 'victim')), { clientId: vin }))
    // behind it, the check a CONNECT meets when a server lets such a chain through (a library user's TLS settings)
    const chain = [...readFileSync(join(dir, 'cert.pem'), 'utf8').matchAll(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).raw)
    expect(checkIdentity(identityFromChain(chain, (c) => caInfoOf(c, null)))).to.deep.equal({ ok: false, reason: 'no_client_auth', detail: 'extendedKeyUsage lacks clientAuth' })
  })

  it('refuses a subject value with a wildcard: identity_injection', async () => {
    const dir = await pki.extra('inject', 'vehicle', vin, { subject: subject(['OU', 'vehicle'], ['CN', vin.slice(0, 16) + '#']) })
    await refusedAtConnect(dir, vin.slice(0, 16) + '#', 'identity_injection')
  })

  it('refuses a subject value with a level separator: identity_injection', async () => {
    const dir = await pki.extra('inject-slash', 'vehicle', vin, { subject: subject(['OU', 'vehicle'], ['CN', 'A/B']) })
    await refusedAtConnect(dir, 'A/B', 'identity_injection')
  })

  it('refuses a vehicle whose CN is not a VIN: bad_vin', async () => {
    const dir = await pki.extra('badvin', 'vehicle', 'NOT-A-VIN', { subject: subject(['OU', 'vehicle'], ['CN', 'IOQ00000000000000']) })
    await refusedAtConnect(dir, 'IOQ00000000000000', 'bad_vin')
  })

  it('refuses an OU that no role matches: no_role', async () => {
    const dir = await pki.extra('intruder', 'fleet-backend', 'intruder', { subject: subject(['OU', 'intruder'], ['CN', 'intruder']) })
    await refusedAtConnect(dir, 'intruder', 'no_role')
  })

  it('refuses a certificate with two OUs (cannot pick its role): no_role', async () => {
    const dir = await pki.extra('two-ou', 'vehicle', vin, { subject: subject(['OU', 'vehicle'], ['OU', 'fleet-backend'], ['CN', vin]) })
    await refusedAtConnect(dir, vin, 'no_role')
  })

  it('refuses a vehicle certificate from the wrong CA (issuer pin): no_role', async () => {
    const dir = await pki.extra('vehicle-from-mfg', 'vehicle', vin, { from: 'manufacturing' })
    await refusedAtConnect(dir, vin, 'no_role')
  })

  it('refuses a clientId other than the VIN: client_id_mismatch, and the victim keeps its session', async () => {
    const victim = await connect(broker.port, credentials(pki.dir, pki.vehicle(1)), { clientId: pki.vins[1] })
    let victimClosed = false
    victim.on('close', () => { victimClosed = true })
    broker.audit.clear()
    await refusedAtConnect(pki.vehicle(0), pki.vins[1]!, 'client_id_mismatch')
    await new Promise((r) => setTimeout(r, 200))
    expect(victimClosed).to.equal(false)
    await end(victim)
  })

  it('refuses an empty clientId (Aedes would invent one): client_id_mismatch', async () => {
    await refusedAtConnect(pki.vehicle(0), '', 'client_id_mismatch', { clean: true })
  })

  it('lets a backend use its CN or <CN>-<suffix> as clientId, and nothing else', async () => {
    const c = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-7' })
    await end(c)
    broker.audit.clear()
    await refusedAtConnect(pki.backend, vin, 'client_id_mismatch')
    broker.audit.clear()
    await refusedAtConnect(pki.backend, 'fleet-backendX', 'client_id_mismatch') // a prefix alone is not enough
  })

  it('refuses a takeover by another subject whose template also yields the clientId (CN ops as ops-eu-1): client_id_mismatch', async () => {
    const victimDir = await pki.extra('ops-eu', 'fleet-backend', 'ops-eu')
    const attackerDir = await pki.extra('ops', 'fleet-backend', 'ops')
    const victim = await connect(broker.port, credentials(pki.dir, victimDir), { clientId: 'ops-eu-1' })
    let victimClosed = false
    victim.on('close', () => { victimClosed = true })
    broker.audit.clear()
    await refusedAtConnect(attackerDir, 'ops-eu-1', 'client_id_mismatch')
    await new Promise((r) => setTimeout(r, 200))
    expect(victimClosed).to.equal(false)
    await end(victim)
    // the same subject may take its own session over (a car back after a dropped link)
    const again = await connect(broker.port, credentials(pki.dir, victimDir), { clientId: 'ops-eu-1' })
    const next = await connect(broker.port, credentials(pki.dir, victimDir), { clientId: 'ops-eu-1' })
    await closed(again, 3000)
    await end(next)
  })

  it('refuses a Will on another car\'s topic: will_denied', async () => {
    await refusedAtConnect(pki.vehicle(0), vin, 'will_denied', { will: { topic: `vehicles/${pki.vins[1]}/status`, payload: Buffer.from('x'), qos: 0, retain: false } })
  })

  it('refuses a Will on a command topic, even the car\'s own (retained command): will_denied', async () => {
    await refusedAtConnect(pki.backend, 'fleet-backend-w', 'will_denied', { will: { topic: `vehicles/${vin}/commands`, payload: Buffer.from('x'), qos: 1, retain: true } })
  })

  it('accepts a Will on the car\'s own status topic', async () => {
    const c = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin, will: { topic: `vehicles/${vin}/status`, payload: Buffer.from('offline'), qos: 1, retain: true } })
    await end(c)
  })

  it('admits a certificate made by the openssl CLI', async function () {
    const dir = join(pki.dir, 'tests', 'openssl')
    mkdirSync(dir, { recursive: true })
    const ext = join(dir, 'ext.cnf')
    writeFileSync(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n')
    const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
    run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'key.pem')) // SEC1 key
    run('req', '-new', '-key', join(dir, 'key.pem'), '-subj', `/O=fleetgate dev/OU=vehicle/CN=${pki.vins[2]}`, '-out', join(dir, 'req.csr'))
    run('x509', '-req', '-in', join(dir, 'req.csr'), '-CA', join(pki.dir, 'issuing-ca.pem'), '-CAkey', join(pki.dir, 'issuing-ca.key'),
      '-CAcreateserial', '-days', '2', '-sha256', '-extfile', ext, '-out', join(dir, 'leaf.pem'))
    writeFileSync(join(dir, 'cert.pem'), readFileSync(join(dir, 'leaf.pem'), 'utf8') + readFileSync(join(pki.dir, 'issuing-ca.pem'), 'utf8'))
    const c = await connect(broker.port, credentials(pki.dir, dir), { clientId: pki.vins[2] })
    const line = await broker.audit.waitFor('connect.allow')
    expect(line.role).to.equal('vehicle')
    await end(c)
  })

  describe('TLS settings', () => {
    function rawTls (opts: Record<string, unknown>): Promise<TLSSocket> {
      const creds = credentials(pki.dir, pki.vehicle(0))
      return new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: broker.port, servername: 'localhost', ...creds, ...opts }, () => resolve(s))
        s.once('error', reject)
      })
    }

    it('--tls-resumption off never resumes a TLS session; on (the default) it does (tls-resumption.test.ts: the checks on a resume)', async () => {
      const ticketOf = async (port: number) => {
        const first = await rawTls({ port })
        const session = await new Promise<Buffer | undefined>((resolve) => {
          let got: Buffer | undefined
          first.on('session', (s: Buffer) => { got = s })
          setTimeout(() => resolve(got ?? first.getSession()), 300)
        })
        first.destroy()
        return session
      }
      const off = await startTestBroker(pki.dir, { tlsResumption: 'off' })
      try {
        const second = await rawTls({ port: off.port, session: await ticketOf(off.port) })
        expect(second.isSessionReused()).to.equal(false)
        second.destroy()
      } finally { await off.close() }
      const second = await rawTls({ session: await ticketOf(broker.port) })
      expect(second.isSessionReused()).to.equal(true)
      second.destroy()
    })

    it('refuses TLS 1.1', async () => {
      let err: Error | undefined
      try { (await rawTls({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).destroy() } catch (e) { err = e as Error }
      expect(err, 'TLS 1.1 handshake must fail').to.be.instanceOf(Error)
    })

    it('refuses a non-AEAD TLS 1.2 cipher suite', async () => {
      let err: Error | undefined
      try { (await rawTls({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA256' })).destroy() } catch (e) { err = e as Error }
      expect(err, 'CBC suite must be refused').to.be.instanceOf(Error)
    })

    it('negotiates TLS 1.3 with an AEAD suite by default', async () => {
      const s = await rawTls({})
      expect(s.getProtocol()).to.equal('TLSv1.3')
      expect(s.getCipher().name).to.match(/GCM|CHACHA20/)
      s.destroy()
    })
  })
})
