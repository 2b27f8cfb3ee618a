import 'reflect-metadata'
import { expect } from 'chai'
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate, ExtendedKeyUsage, id_ce_extKeyUsage } from '@peculiar/asn1-x509'
import * as x509 from '@peculiar/x509'
import { isFleetgateError } from '../../../src/contract/errors.js'
import {
  CA_COMMON_NAMES, DAY_MS, EKU_OIDS, MINUTE_MS, PKI_ROLES, YEAR_MS, caFromPem, createIntermediateCa, createRogueCa, createRootCa,
  issueFromCsr, issueLeaf, randomVin, type CaMaterial,
} from '../../../src/pki/index.js'
import { openssl, rejects, tempDir } from './helpers.js'

const ATTR: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.11': 'OU', '2.5.4.10': 'O' }

/** subject as [[type, value], ...] per RDN, values decoded verbatim */
function subjectOf (der: Uint8Array): Array<Array<[string, string]>> {
  const cert = AsnConvert.parse(der, Certificate)
  return cert.tbsCertificate.subject.map((rdn) => rdn.map((atv) => [ATTR[atv.type] ?? atv.type, atv.value.toString()] as [string, string]))
}

function ekuOf (der: Uint8Array): string[] | null {
  const cert = AsnConvert.parse(der, Certificate)
  const ext = cert.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_extKeyUsage)
  return ext === undefined ? null : [...AsnConvert.parse(ext.extnValue, ExtendedKeyUsage)]
}

function text (pem: string): string {
  const r = openssl(['x509', '-noout', '-text'], pem)
  expect(r.status, r.stderr).to.equal(0)
  return r.stdout
}

describe('pki/profiles', function () {
  this.timeout(20000)
  let root: CaMaterial
  let issuing: CaMaterial
  let manufacturing: CaMaterial
  let t: ReturnType<typeof tempDir>
  const vin = '1M8GDM9AXKP042788'

  before(async () => {
    t = tempDir('profiles')
    root = await createRootCa()
    issuing = await createIntermediateCa(root, 'issuing')
    manufacturing = await createIntermediateCa(root, 'manufacturing')
    writeFileSync(join(t.dir, 'root.pem'), root.certPem)
    writeFileSync(join(t.dir, 'issuing.pem'), issuing.certPem)
    writeFileSync(join(t.dir, 'manufacturing.pem'), manufacturing.certPem)
  })
  after(() => { t.cleanup() })

  function verify (leafPem: string, untrusted: string, extra: string[] = []): { ok: boolean; out: string } {
    const leaf = join(t.dir, `leaf-${Math.random().toString(36).slice(2)}.pem`)
    writeFileSync(leaf, leafPem)
    const r = openssl(['verify', ...extra, '-CAfile', join(t.dir, 'root.pem'), '-untrusted', join(t.dir, untrusted), leaf])
    return { ok: r.status === 0, out: r.stdout + r.stderr }
  }

  it('makes the root, issuing and manufacturing CAs with the pinned CNs and CA extensions', () => {
    expect(root.commonName).to.equal('fleetgate Root CA')
    expect(issuing.commonName).to.equal('fleetgate Issuing CA')
    expect(manufacturing.commonName).to.equal('fleetgate Manufacturing CA')
    expect(CA_COMMON_NAMES.rogue).to.equal('fleetgate Rogue CA')
    const r = text(root.certPem)
    expect(r).to.match(/Subject: O = fleetgate dev, CN = fleetgate Root CA/)
    expect(r).to.match(/Issuer: O = fleetgate dev, CN = fleetgate Root CA/)
    expect(r).to.match(/Basic Constraints: critical\s+CA:TRUE\n/)
    expect(r).to.match(/Key Usage: critical\s+Certificate Sign, CRL Sign/)
    expect(r).to.contain('Subject Key Identifier')
    const i = text(issuing.certPem)
    expect(i).to.match(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/)
    expect(i).to.match(/Key Usage: critical\s+Certificate Sign, CRL Sign/)
    expect(i).to.contain('Authority Key Identifier')
    expect(i).to.match(/ASN1 OID: prime256v1/)
    expect(i).to.match(/Signature Algorithm: ecdsa-with-SHA256/)
    const ir = openssl(['verify', '-CAfile', join(t.dir, 'root.pem'), join(t.dir, 'issuing.pem')])
    expect(ir.status, ir.stderr).to.equal(0)
  })

  it('gives every role its subject, EKU and issuer', async () => {
    const expected = {
      vehicle: { ou: 'vehicle', eku: EKU_OIDS.clientAuth },
      'fleet-backend': { ou: 'fleet-backend', eku: EKU_OIDS.clientAuth },
      'fleet-monitor': { ou: 'fleet-monitor', eku: EKU_OIDS.clientAuth },
      provisioner: { ou: 'provisioner', eku: EKU_OIDS.clientAuth },
      factory: { ou: 'factory', eku: EKU_OIDS.clientAuth },
      server: { ou: null, eku: EKU_OIDS.serverAuth },
      phone: { ou: 'phone', eku: EKU_OIDS.clientAuth },
    } as const
    for (const role of PKI_ROLES) {
      const ca = role === 'factory' ? manufacturing : issuing
      const cn = role === 'vehicle' || role === 'factory' ? vin : `${role}-1`
      const leaf = await issueLeaf(ca, role, cn)
      const ou = expected[role].ou
      expect(subjectOf(leaf.cert), role).to.deep.equal(ou === null
        ? [[['O', 'fleetgate dev']], [['CN', cn]]]
        : [[['O', 'fleetgate dev']], [['OU', ou]], [['CN', cn]]])
      expect(ekuOf(leaf.cert), role).to.deep.equal([expected[role].eku])
      const purpose = role === 'server' ? 'sslserver' : 'sslclient'
      const v = verify(leaf.certPem, role === 'factory' ? 'manufacturing.pem' : 'issuing.pem', ['-purpose', purpose])
      expect(v.ok, `${role}: ${v.out}`).to.equal(true)
      expect(leaf.chainPem).to.equal(leaf.certPem + ca.certPem)
      expect(leaf.key?.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1')
      expect(new X509Certificate(leaf.cert).checkPrivateKey(leaf.key!)).to.equal(true)
    }
  })

  it('sets leaf extensions: CA:false, digitalSignature critical, SKI, AKI = issuer SKI', async () => {
    const leaf = await issueLeaf(issuing, 'vehicle', vin)
    const out = text(leaf.certPem)
    expect(out).to.match(/Basic Constraints: critical\s+CA:FALSE/)
    expect(out).to.match(/Key Usage: critical\s+Digital Signature\n/)
    expect(out).to.match(/Extended Key Usage: \s*\n\s+TLS Web Client Authentication\n/)
    const parsed = new x509.X509Certificate(new Uint8Array(leaf.cert))
    const ski = parsed.getExtension(x509.SubjectKeyIdentifierExtension)
    const aki = parsed.getExtension(x509.AuthorityKeyIdentifierExtension)
    expect(ski?.keyId).to.equal(Buffer.from(await parsed.publicKey.getKeyIdentifier()).toString('hex'))
    expect(aki?.keyId).to.equal(issuing.keyId)
    const issuingParsed = new x509.X509Certificate(new Uint8Array(issuing.cert))
    expect(issuingParsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).to.equal(issuing.keyId)
  })

  it('uses random positive 16-byte serials and a 1-minute backdated notBefore; 1 year for vehicles, 10 for birth certificates', async () => {
    const serials = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const before = Date.now()
      const leaf = await issueLeaf(issuing, 'vehicle', vin)
      const raw = new Uint8Array(AsnConvert.parse(leaf.cert, Certificate).tbsCertificate.serialNumber)
      expect(raw.length).to.equal(16)
      expect(raw[0]).to.be.within(1, 0x7f)
      expect(leaf.serial).to.equal(Buffer.from(raw).toString('hex').replace(/^0+/, ''))
      serials.add(leaf.serial)
      const node = new X509Certificate(leaf.cert)
      const nb = new Date(node.validFrom).getTime()
      expect(before - nb).to.be.within(MINUTE_MS - 1000, MINUTE_MS + 2000)
      const life = new Date(node.validTo).getTime() - before
      expect(Math.abs(life - YEAR_MS)).to.be.below(5000)
    }
    expect(serials.size).to.equal(20)
    const birth = new X509Certificate((await issueLeaf(manufacturing, 'factory', vin)).cert)
    expect(Math.abs(new Date(birth.validTo).getTime() - Date.now() - 10 * YEAR_MS)).to.be.below(5000)
    const short = await issueLeaf(issuing, 'vehicle', vin, { lifetimeMs: 30 * DAY_MS })
    expect(Math.abs(short.notAfter.getTime() - Date.now() - 30 * DAY_MS)).to.be.below(5000)
  })

  it('makes expired and not-yet-valid material from explicit dates', async () => {
    const expired = await issueLeaf(issuing, 'vehicle', vin, { notAfter: new Date(Date.now() - DAY_MS) })
    expect(expired.notBefore.getTime()).to.be.below(expired.notAfter.getTime())
    let v = verify(expired.certPem, 'issuing.pem')
    expect(v.ok).to.equal(false)
    expect(v.out).to.contain('certificate has expired')
    const future = await issueLeaf(issuing, 'vehicle', vin, { notBefore: new Date(Date.now() + DAY_MS) })
    v = verify(future.certPem, 'issuing.pem')
    expect(v.ok).to.equal(false)
    expect(v.out).to.contain('not yet valid')
    const err = await rejects(issueLeaf(issuing, 'vehicle', vin, { notBefore: new Date(), notAfter: new Date(Date.now() - 1000) }))
    expect(isFleetgateError(err) && err.code).to.equal('FG_ERR_CONFIG_INVALID')
  })

  it('overrides the EKU: none at all, or serverAuth only', async () => {
    const none = await issueLeaf(issuing, 'vehicle', vin, { eku: null })
    expect(ekuOf(none.cert)).to.equal(null)
    expect(text(none.certPem)).to.not.contain('Extended Key Usage')
    const server = await issueLeaf(issuing, 'vehicle', vin, { eku: ['serverAuth'] })
    expect(ekuOf(server.cert)).to.deep.equal([EKU_OIDS.serverAuth])
    expect(subjectOf(server.cert)).to.deep.equal([[['O', 'fleetgate dev']], [['OU', 'vehicle']], [['CN', vin]]])
    const v = verify(server.certPem, 'issuing.pem', ['-purpose', 'sslclient'])
    expect(v.ok).to.equal(false)
  })

  it('takes any subject verbatim: CN with + or #, two OUs, a multi-valued RDN', async () => {
    const plus = await issueLeaf(issuing, 'vehicle', 'x', { subject: [['O', 'fleetgate dev'], ['OU', 'vehicle'], ['CN', 'vehicles/+/#']] })
    expect(subjectOf(plus.cert)).to.deep.equal([[['O', 'fleetgate dev']], [['OU', 'vehicle']], [['CN', 'vehicles/+/#']]])
    const hash = await issueLeaf(issuing, 'vehicle', 'x', { subject: [['CN', '#41']] })
    expect(subjectOf(hash.cert)).to.deep.equal([[['CN', '#41']]])
    const twoOu = await issueLeaf(issuing, 'vehicle', vin, { subject: [['O', 'fleetgate dev'], ['OU', 'vehicle'], ['OU', 'fleet-backend'], ['CN', vin]] })
    expect(subjectOf(twoOu.cert)).to.deep.equal([[['O', 'fleetgate dev']], [['OU', 'vehicle']], [['OU', 'fleet-backend']], [['CN', vin]]])
    const multi = await issueLeaf(issuing, 'vehicle', vin, { subject: [['O', 'fleetgate dev'], [['CN', vin], ['OU', 'vehicle']]] })
    expect(subjectOf(multi.cert)).to.deep.equal([[['O', 'fleetgate dev']], [['CN', vin], ['OU', 'vehicle']]])
    expect(verify(plus.certPem, 'issuing.pem').ok).to.equal(true)
  })

  it('gives servers a SAN of localhost, 127.0.0.1, ::1, the CN and extra names', async () => {
    const leaf = await issueLeaf(issuing, 'server', 'broker.fleet.example', { san: ['10.0.0.7', 'mqtt.internal', 'spiffe://fleet/broker'] })
    const out = text(leaf.certPem)
    expect(out).to.contain('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.0.0.7, DNS:mqtt.internal, URI:spiffe://fleet/broker, DNS:broker.fleet.example')
    const node = new X509Certificate(leaf.cert)
    expect(node.checkHost('localhost')).to.equal('localhost')
    expect(node.checkIP('127.0.0.1')).to.equal('127.0.0.1')
    expect(node.checkIP('::1')).to.equal('::1')
    const vehicle = await issueLeaf(issuing, 'vehicle', vin)
    expect(text(vehicle.certPem)).to.not.contain('Subject Alternative Name')
  })

  it('issues from any CA: a rogue CA makes a look-alike that does not chain to the root', async () => {
    const rogue = await createRogueCa()
    expect(rogue.commonName).to.equal('fleetgate Rogue CA')
    const fake = await issueLeaf(rogue, 'vehicle', vin)
    const real = await issueLeaf(issuing, 'vehicle', vin)
    expect(subjectOf(fake.cert)).to.deep.equal(subjectOf(real.cert))
    writeFileSync(join(t.dir, 'rogue.pem'), rogue.certPem)
    expect(verify(fake.certPem, 'rogue.pem').ok).to.equal(false)
    expect(verify(fake.certPem, 'issuing.pem').ok).to.equal(false)
  })

  it('loads a CA from PEM + key and refuses a key that is not its own', async () => {
    const again = await caFromPem(issuing.certPem, issuing.key, 'issuing.pem')
    expect(again.keyId).to.equal(issuing.keyId)
    const leaf = await issueLeaf(again, 'vehicle', vin)
    expect(verify(leaf.certPem, 'issuing.pem').ok).to.equal(true)
    const err = await rejects(caFromPem(issuing.certPem, root.key, 'issuing.pem'))
    expect(isFleetgateError(err) && err.code).to.equal('FG_ERR_KEY_MISMATCH')
    const notCa = await rejects(caFromPem(leaf.certPem, leaf.key!, 'leaf.pem'))
    expect(isFleetgateError(notCa) && notCa.code).to.equal('FG_ERR_PKI_INVALID')
  })

  describe('issueFromCsr', () => {
    function makeCsr (subj: string, keyArgs: string[] = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']): { csr: string; keyPath: string } {
      const keyPath = join(t.dir, `csr-key-${Math.random().toString(36).slice(2)}.pem`)
      const r = openssl(['req', '-new', ...keyArgs, '-nodes', '-keyout', keyPath, '-subj', subj, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'extendedKeyUsage=serverAuth'])
      expect(r.status, r.stderr).to.equal(0)
      return { csr: r.stdout, keyPath }
    }

    it('certifies the CSR key, keeping only its CN', async () => {
      const v = randomVin()
      const { csr, keyPath } = makeCsr(`/O=Evil Corp/OU=fleet-backend/CN=${v}`)
      const leaf = await issueFromCsr(issuing, 'vehicle', csr, { source: 'car.csr' })
      expect(leaf.key).to.equal(null)
      expect(leaf.keyPem).to.equal(null)
      expect(leaf.commonName).to.equal(v)
      expect(subjectOf(leaf.cert)).to.deep.equal([[['O', 'fleetgate dev']], [['OU', 'vehicle']], [['CN', v]]])
      expect(ekuOf(leaf.cert)).to.deep.equal([EKU_OIDS.clientAuth])
      expect(text(leaf.certPem)).to.match(/CA:FALSE/)
      const csrKey = createPublicKey(readFileSync(keyPath, 'utf8'))
      expect(new X509Certificate(leaf.cert).publicKey.export({ type: 'spki', format: 'der' }).equals(csrKey.export({ type: 'spki', format: 'der' }))).to.equal(true)
      const named = await issueFromCsr(issuing, 'vehicle', csr, { commonName: vin })
      expect(subjectOf(named.cert)[2]).to.deep.equal([['CN', vin]])
    })

    it('refuses a CSR whose signature does not verify, a non-P-256 key, or no CSR at all', async () => {
      const v = randomVin()
      const { csr } = makeCsr(`/CN=${v}`)
      const der = Buffer.from(csr.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
      const at = der.indexOf(Buffer.from(v))
      expect(at).to.be.above(0)
      der[at] = der[at] === 0x41 ? 0x42 : 0x41
      let err = await rejects(issueFromCsr(issuing, 'vehicle', der, { source: 'bad.csr' }))
      expect(isFleetgateError(err) && err.toLine()).to.equal('FG_ERR_PEM_INVALID: bad.csr: the CSR signature does not verify')

      const rsa = makeCsr(`/CN=${v}`, ['-newkey', 'rsa:2048'])
      err = await rejects(issueFromCsr(issuing, 'vehicle', rsa.csr, { source: 'rsa.csr' }))
      expect(isFleetgateError(err) && err.toLine()).to.equal('FG_ERR_PEM_INVALID: rsa.csr: the CSR\'s key is not ECDSA P-256')

      err = await rejects(issueFromCsr(issuing, 'vehicle', issuing.certPem, { source: 'x.pem' }))
      expect(isFleetgateError(err) && err.toLine()).to.equal('FG_ERR_PEM_INVALID: x.pem: no certificate request found')

      const noCn = makeCsr('/O=x')
      err = await rejects(issueFromCsr(issuing, 'vehicle', noCn.csr, { source: 'nocn.csr' }))
      expect(isFleetgateError(err) && err.code).to.equal('FG_ERR_CONFIG_MISSING')
    })

    it('also takes a CSR made with node:crypto keys via @peculiar/x509', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      const { webcrypto } = await import('node:crypto')
      const keys = {
        privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']),
        publicKey: await webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']),
      } as unknown as CryptoKeyPair
      const req = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${vin}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams })
      const leaf = await issueFromCsr(manufacturing, 'factory', req.toString('pem'))
      expect(subjectOf(leaf.cert)).to.deep.equal([[['O', 'fleetgate dev']], [['OU', 'factory']], [['CN', vin]]])
      expect(verify(leaf.certPem, 'manufacturing.pem', ['-purpose', 'sslclient']).ok).to.equal(true)
    })
  })
})
