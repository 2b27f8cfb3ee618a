// Which chain an identity holds when CAs come from several places (the trust
// bundle, the server's own --cert chain, chains peers sent), with resumption on:
// found by a red-team pass over the resumption work, each a regression test.
import { expect } from 'chai'
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { createPrivateKey } from 'node:crypto'
import { x509 } from '../../src/pki/x509.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, tryConnect, end } from '../harness/mqtt.js'
import { connectWithTicket } from '../harness/tls-session.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { fingerprintOf } from './revocation-helpers.js'
import { randomVin } from '../../src/pki/index.js'

const ENTRY = { reason: 'keyCompromise', revokedAt: new Date().toISOString() }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const firstPem = (pem: string) => pem.split(/(?<=-----END CERTIFICATE-----)\s*/)[0]! + '\n'

describe('TLS chains: the copy a CA revocation names, reloads, expired copies, ticket keys', function () {
  this.timeout(40_000)
  let pki: TestPki
  const brokers: TestBroker[] = []
  const start = async (input: Parameters<typeof startTestBroker>[1] = {}) => {
    const b = await startTestBroker(pki.dir, input)
    brokers.push(b)
    return b
  }
  before(async () => { pki = await testPki() })
  afterEach(async () => { await Promise.all(brokers.splice(0).map((b) => b.close())) })

  it('a renewed copy of the issuing CA in the broker\'s --cert does not hide a revocation of the copy cars send', async () => {
    const work = mkdtempSync(join(tmpdir(), 'fg-renewed-'))
    // a renewal as an operator does it: same subject, same key, new serial, signed by the root
    execFileSync('openssl', ['x509', '-x509toreq', '-copy_extensions', 'copyall', '-in', join(pki.dir, 'issuing-ca.pem'), '-signkey', join(pki.dir, 'issuing-ca.key'), '-out', join(work, 'req.pem')], { stdio: 'ignore' })
    execFileSync('openssl', ['x509', '-req', '-in', join(work, 'req.pem'), '-CA', join(pki.dir, 'root-ca.pem'), '-CAkey', join(pki.dir, 'root-ca.key'), '-set_serial', '0x7e7e7e', '-days', '1800', '-copy_extensions', 'copyall', '-out', join(work, 'renewed.pem')], { stdio: 'ignore' })
    writeFileSync(join(work, 'cert.pem'), firstPem(readFileSync(join(pki.dir, 'broker', 'cert.pem'), 'utf8')) + readFileSync(join(work, 'renewed.pem'), 'utf8'))
    const b = await start({ cert: join(work, 'cert.pem') })
    await b.fleetgate.revocations.revoke([{ fingerprint: fingerprintOf(join(pki.dir, 'issuing-ca.pem')) }], ENTRY)
    const creds = credentials(pki.dir, pki.vehicle(2))
    const o = await tryConnect(b.port, { ...creds, ca: Buffer.concat([creds.ca, readFileSync(join(pki.dir, 'issuing-ca.pem'))]) }, { clientId: pki.vins[2]! })
    expect(o.ok, 'a car under the revoked copy must not get in').to.equal(false)
    if (o.ok) await end(o.client)
    await b.audit.waitFor('connect.deny', { reason: 'revoked' })
  })

  it('a reload keeps the CAs peers taught the node: a birth certificate (manufacturing CA, in neither --ca nor --cert) still resumes', async () => {
    const b = await start()
    const vin = randomVin()
    const creds = credentials(pki.dir, await pki.extra('chains-birth', 'factory', vin))
    const first = await connectWithTicket(b.port, creds, { clientId: vin })
    expect(first.returnCode).to.equal(0)
    expect(b.reload().ok).to.equal(true)
    const again = await connectWithTicket(b.port, creds, { clientId: vin, session: first.session })
    expect(again.resumed).to.equal(true)
    expect(again.returnCode).to.equal(0)
  })

  it('a cached chain whose CA copy expired is built again from the copy the car sends now', async () => {
    const mPem = readFileSync(join(pki.dir, 'manufacturing-ca.pem'), 'utf8')
    const real = new x509.X509Certificate(mPem)
    const root = new x509.X509Certificate(readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8'))
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    const rootKey = createPrivateKey(readFileSync(join(pki.dir, 'root-ca.key')))
    // the global (DOM-typed) webcrypto: the CryptoKey type @peculiar/x509 takes (see chain-decoy.test.ts)
    const signingKey = await crypto.subtle.importKey('pkcs8', rootKey.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign'])
    const expiresAt = Date.now() + 4000
    const short = await x509.X509CertificateGenerator.create({
      serialNumber: '5a5a5a', subject: real.subjectName, issuer: root.subjectName,
      notBefore: new Date(Date.now() - 60_000), notAfter: new Date(expiresAt),
      signingAlgorithm: alg, publicKey: await real.publicKey.export(), signingKey, extensions: real.extensions,
    })
    const vin = randomVin()
    const dir = await pki.extra('chains-stale', 'factory', vin)
    const leafPem = firstPem(readFileSync(join(dir, 'cert.pem'), 'utf8'))
    const base = credentials(pki.dir, dir)
    const b = await start({ tlsResumption: 'off' })
    const withShort = await connectWithTicket(b.port, { ...base, cert: Buffer.from(leafPem + short.toString('pem').replace(/\r/g, '') + '\n') }, { clientId: vin })
    expect(withShort.returnCode).to.equal(0)
    await sleep(expiresAt - Date.now() + 1500)
    const withValid = await connectWithTicket(b.port, { ...base, cert: Buffer.from(leafPem + mPem) }, { clientId: vin })
    expect(withValid.returnCode, JSON.stringify(b.audit.find('connect.deny'))).to.equal(0)
  })

  describe('with Redis', function () {
    let redis: TestRedis
    before(async () => { redis = await startRedis() })
    after(async () => { await redis?.stop() })

    it('the ticket secret in Redis alone seals nothing: nodes with another server key do not resume each other\'s tickets', async () => {
      const a = await start({ redis: redis.url })
      const other = await pki.extra('chains-broker-b', 'server', 'fleetgate-broker')
      const b = await start({ redis: redis.url, cert: join(other, 'cert.pem'), key: join(other, 'key.pem') })
      const vin = randomVin()
      const creds = credentials(pki.dir, await pki.extra('chains-redis-car', 'vehicle', vin))
      const first = await connectWithTicket(a.port, creds, { clientId: vin })
      expect(first.returnCode).to.equal(0)
      const onB = await connectWithTicket(b.port, creds, { clientId: vin, session: first.session })
      expect(onB.returnCode).to.equal(0)
      expect(onB.resumed, 'same Redis secret, another server key: no resumption').to.equal(false)
      const onA = await connectWithTicket(a.port, creds, { clientId: vin, session: first.session })
      expect(onA.resumed).to.equal(true)
    })

    it('a resume on another node is judged there: the intermediate revoked in the shared store is refused', async () => {
      const a = await start({ redis: redis.url, redisPrefix: 'chains-revoke:' })
      const b = await start({ redis: redis.url, redisPrefix: 'chains-revoke:' })
      const vin = randomVin()
      const dir = await pki.extra('chains-revoke-ca', 'vehicle', vin)
      const creds = credentials(pki.dir, dir)
      const first = await connectWithTicket(a.port, creds, { clientId: vin })
      expect(first.returnCode).to.equal(0)
      await a.fleetgate.revocations.revoke([{ fingerprint: fingerprintOf(join(dir, 'cert.pem'), 1) }], ENTRY)
      const r = await connectWithTicket(b.port, creds, { clientId: vin, session: first.session })
      expect(r.resumed).to.equal(true)
      expect(r.returnCode).to.equal(5)
      await b.audit.waitFor('connect.deny', { reason: 'revoked' })
    })
  })
})
