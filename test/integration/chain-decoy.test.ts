// ARCHITECTURE.md steps 1-3: the chain that revocation checks must be the chain whose
// signatures hold. A client sends, before the real (perhaps revoked) issuing CA,
// an expired decoy with the same name and key identifier: OpenSSL skips it (not
// time-valid) and verifies the real path, but Node reports the decoy as the
// leaf's issuer, so the lookups of the issuing CA and of the leaf's issuer +
// serial would go to the wrong fingerprint. fleetgate never takes the chain
// from what the socket reports: a leaf of an issuing CA it knows (its own chain's,
// or one verified before) gets the known chain; otherwise each link's signature
// is checked and such a chain is refused.
import { expect } from 'chai'
import { readFileSync, writeFileSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createPrivateKey } from 'node:crypto'
import { x509 } from '../../src/pki/x509.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { tryConnect, credentials, end } from '../harness/mqtt.js'
import { sha256Hex } from '../../src/identity/index.js'

async function decoyOf (issuingPem: string, rootPem: string): Promise<string> {
  const real = new x509.X509Certificate(issuingPem)
  const root = new x509.X509Certificate(rootPem)
  const ski = real.getExtension(x509.SubjectKeyIdentifierExtension)!
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  // the global (DOM-typed) webcrypto, the CryptoKey type @peculiar/x509 takes: @types/node 24's own
  // CryptoKey has key usages (ML-KEM's encapsulateBits...) the DOM lib's lacks
  const keys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])
  const decoy = await x509.X509CertificateGenerator.create({
    serialNumber: '0a0b0c',
    subject: real.subject,
    issuer: root.subject,
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2021-01-01T00:00:00Z'),
    signingAlgorithm: alg,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey, // not the root's: the decoy's signature does not hold
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.SubjectKeyIdentifierExtension(ski.keyId)],
  })
  return decoy.toString('pem')
}

describe('peer chain: only verified links count (decoy intermediate)', function () {
  this.timeout(30_000)
  let pki: TestPki
  let broker: TestBroker

  before(async () => {
    pki = await testPki()
    // a broker whose own chain does not carry the issuing CA: it knows only the root,
    // so a car's chain is walked link by link (clients trust root + issuing CA)
    const dir = mkdtempSync(join(tmpdir(), 'fg-decoy-broker-'))
    writeFileSync(join(dir, 'cert.pem'), readFileSync(join(pki.dir, 'broker', 'cert.pem'), 'utf8').split(/(?<=-----END CERTIFICATE-----)\s*/)[0]! + '\n')
    broker = await startTestBroker(pki.dir, { cert: join(dir, 'cert.pem') })
  })
  after(async () => { await broker?.close() })

  it('refuses a chain whose issuer link does not verify (a decoy ahead of the real CA), and admits the same leaf with its real chain', async () => {
    const vin = pki.vins[3]!
    const dir = join(pki.dir, 'tests', 'decoy')
    mkdirSync(dir, { recursive: true })
    const issuingPem = readFileSync(join(pki.dir, 'issuing-ca.pem'), 'utf8')
    const leafPem = readFileSync(join(pki.vehicle(3), 'cert.pem'), 'utf8').split(/(?<=-----END CERTIFICATE-----)\s*/)[0]!
    const decoy = (await decoyOf(issuingPem, readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8'))).replace(/\r/g, '').trim()
    writeFileSync(join(dir, 'cert.pem'), leafPem + '\n' + decoy + '\n' + issuingPem)
    writeFileSync(join(dir, 'key.pem'), readFileSync(join(pki.vehicle(3), 'key.pem')))

    // OpenSSL skips the expired decoy and verifies the real path, so TLS succeeds; Node reports the
    // decoy as the leaf's issuer. fleetgate refuses rather than check revocation against the wrong CA.
    const bothCas = Buffer.concat([readFileSync(join(pki.dir, 'root-ca.pem')), Buffer.from(issuingPem)])
    const withDecoy = await tryConnect(broker.port, { ...credentials(pki.dir, dir), ca: bothCas }, { clientId: vin })
    expect(withDecoy.ok).to.equal(false)
    if (!withDecoy.ok) expect(withDecoy.returnCode).to.equal(5)
    const line = await broker.audit.waitFor('connect.deny', { reason: 'no_client_auth' })
    expect(line.detail).to.match(/verified signatures/)

    // The same leaf with its real chain: admitted, and the identity holds the real issuing CA.
    const plain = await tryConnect(broker.port, { ...credentials(pki.dir, pki.vehicle(3)), ca: bothCas }, { clientId: vin })
    expect(plain.ok).to.equal(true)
    const realFp = sha256Hex(new Uint8Array(new x509.X509Certificate(issuingPem).rawData))
    const session = broker.fleetgate.sessions.live().map((c) => broker.fleetgate.sessions.get(c)!).find((s) => s.identity.subject.CN?.[0] === vin)!
    expect(session.identity.issuerFingerprint).to.equal(realFp)
    expect(session.identity.chain.map((c) => c.fingerprint)).to.deep.equal([realFp, sha256Hex(new Uint8Array(new x509.X509Certificate(readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8')).rawData))])
    if (plain.ok) await end(plain.client)

    // A broker that has verified the real issuing CA in a car's chain before: the decoy is never
    // looked at, the identity holds the real issuing CA, so revocation checks the real one. (The
    // broker's own --cert copy does not count here: it serves resumed sessions only.)
    const knowing = await startTestBroker(pki.dir)
    try {
      const teacher = await tryConnect(knowing.port, credentials(pki.dir, pki.vehicle(0)), { clientId: pki.vins[0]! })
      expect(teacher.ok).to.equal(true)
      if (teacher.ok) await end(teacher.client)
      const o = await tryConnect(knowing.port, credentials(pki.dir, dir), { clientId: vin })
      expect(o.ok).to.equal(true)
      const s = knowing.fleetgate.sessions.live().map((c) => knowing.fleetgate.sessions.get(c)!).find((x) => x.identity.subject.CN?.[0] === vin)!
      expect(s.identity.issuerFingerprint).to.equal(realFp)
      if (o.ok) await end(o.client)
      await knowing.fleetgate.revocations.revoke([{ fingerprint: realFp }], { reason: 'keyCompromise', revokedAt: new Date().toISOString() })
      const revoked = await tryConnect(knowing.port, credentials(pki.dir, dir), { clientId: vin })
      expect(revoked.ok).to.equal(false)
      await knowing.audit.waitFor('connect.deny', { reason: 'revoked' })
    } finally { await knowing.close() }
  })

  it('an expired same-key copy of the issuing CA sent first cannot move revocation lookups to its fingerprint', async () => {
    const vin = pki.vins[2]!
    const dir = join(pki.dir, 'tests', 'same-key-decoy')
    mkdirSync(dir, { recursive: true })
    const issuingPem = readFileSync(join(pki.dir, 'issuing-ca.pem'), 'utf8')
    const real = new x509.X509Certificate(issuingPem)
    const rootKey = createPrivateKey(readFileSync(join(pki.dir, 'root-ca.key')))
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    const signingKey = await crypto.subtle.importKey('pkcs8', rootKey.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign'])
    const copy = await x509.X509CertificateGenerator.create({
      serialNumber: '0d0e0f',
      subject: real.subject,
      issuer: new x509.X509Certificate(readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8')).subject,
      notBefore: new Date('2020-01-01T00:00:00Z'),
      notAfter: new Date('2021-01-01T00:00:00Z'),
      signingAlgorithm: alg,
      publicKey: await real.publicKey.export(), // the issuing CA's own key: the leaf's signature verifies with it
      signingKey, // signed by the real root: a genuine but expired certificate of the issuing CA
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), real.getExtension(x509.SubjectKeyIdentifierExtension)!],
    })
    const leafPem = readFileSync(join(pki.vehicle(2), 'cert.pem'), 'utf8').split(/(?<=-----END CERTIFICATE-----)\s*/)[0]!
    writeFileSync(join(dir, 'cert.pem'), leafPem + '\n' + copy.toString('pem').replace(/\r/g, '').trim() + '\n' + issuingPem)
    writeFileSync(join(dir, 'key.pem'), readFileSync(join(pki.vehicle(2), 'key.pem')))

    // Revoke the leaf by issuer (the real issuing CA) + serial, as a CRL import would.
    const realFp = sha256Hex(new Uint8Array(real.rawData))
    const leafSerial = new x509.X509Certificate(leafPem).serialNumber.toLowerCase().replace(/^0+/, '')
    const broker2 = await startTestBroker(pki.dir)
    try {
      await broker2.fleetgate.revocations.revoke([{ issuer: realFp, serial: leafSerial }], { reason: 'keyCompromise', revokedAt: new Date().toISOString() })
      for (const round of [1, 2]) { // first with the issuing CA unknown to the broker, then known
        const o = await tryConnect(broker2.port, credentials(pki.dir, dir), { clientId: vin })
        expect(o.ok, `round ${round}: a revoked leaf must not get in`).to.equal(false)
        if (round === 1) { const other = await tryConnect(broker2.port, credentials(pki.dir, pki.vehicle(1)), { clientId: pki.vins[1] }); if (other.ok) await end(other.client) }
      }
      expect(broker2.audit.find('connect.allow', { role: 'vehicle' }).length).to.equal(1) // only the other car
      const denied = broker2.audit.find('connect.deny').map((l) => l.reason)
      expect(denied).to.have.length(2)
      for (const r of denied) expect(['revoked', 'no_client_auth']).to.include(r)
    } finally { await broker2.close() }
  })
})
