// The fast issuer and the CSR checks (README "Provisioning and rotation"):
// known answers against the full @peculiar/asn1 schema encoding, and the sign
// options' decisions, order and "nothing but the key comes from the CSR".
import { expect } from 'chai'
import { X509Certificate, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  AlgorithmIdentifier, AttributeTypeAndValue, AttributeValue, AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, Extension,
  Extensions, KeyIdentifier, KeyUsage, KeyUsageFlags, Name, RelativeDistinguishedName, SubjectKeyIdentifier, SubjectPublicKeyInfo,
  TBSCertificate, Validity, Version, Certificate,
  id_ce_authorityKeyIdentifier, id_ce_basicConstraints, id_ce_extKeyUsage, id_ce_keyUsage, id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRootCa, createIntermediateCa, keyIdentifier, privateKeyToPem, type CaMaterial } from '../../../src/pki/index.js'
import {
  authorize, buildCsr, createFastIssuer, loadIssuer, emptyTemplate, parseRequest, requestCommonName, signRequest, isP256Key, verifyProofOfPossession,
  SignOptionError, p256KeyValidator, commonNameValidator, type FastIssuer, type SignOption,
} from '../../../src/provisioning/index.js'
import { readTlv } from '../../../src/identity/der.js'
import { EKU_CLIENT_AUTH } from '../../../src/identity/index.js'

const VIN = '1HGCM82633A004352'
const OTHER = '2T1BURHE0JC014852'

function key (curve = 'prime256v1'): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: curve }).privateKey
}

function der (pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
}

describe('provisioning: fast issuer and CSR checks', function () {
  let root: CaMaterial
  let issuing: CaMaterial
  let issuer: FastIssuer

  before(async function () {
    root = await createRootCa()
    issuing = await createIntermediateCa(root, 'issuing')
    issuer = createFastIssuer(issuing.cert, issuing.key)
  })

  const options = (vin = VIN): SignOption[] => authorize({ vin, lifetimeMs: 3_600_000, organization: issuer.organization })

  it('encodes exactly what the full @peculiar/asn1-x509 schema encoding gives (known answer)', function () {
    const k = key()
    const spkiDer = createPublicKey(k).export({ type: 'spki', format: 'der' })
    const t = { ...emptyTemplate(), organization: 'fleetgate dev', organizationalUnit: 'vehicle', commonName: VIN, extKeyUsage: [EKU_CLIENT_AUTH], lifetimeMs: 86_400_000 }
    const now = new Date('2030-01-02T03:04:05.678Z')
    const serial = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex')
    const leaf = issuer.issue({ spkiDer, publicKeyBits: spkiDer.subarray(26) }, t, now, serial)
    // the same certificate through the schemas
    const rdn = (type: string, v: string) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: v }) })])
    const ext = (id: string, critical: boolean, v: unknown) => new Extension({ extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(v)) })
    const caCert = AsnConvert.parse(issuing.cert, Certificate)
    const tbs = new TBSCertificate({
      version: Version.v3,
      serialNumber: new Uint8Array(serial).buffer,
      signature: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }),
      issuer: caCert.tbsCertificate.subject,
      validity: new Validity({ notBefore: new Date('2030-01-02T03:03:05Z'), notAfter: new Date('2030-01-03T03:04:05Z') }),
      subject: new Name([rdn('2.5.4.10', 'fleetgate dev'), rdn('2.5.4.11', 'vehicle'), rdn('2.5.4.3', VIN)]),
      subjectPublicKeyInfo: AsnConvert.parse(spkiDer, SubjectPublicKeyInfo),
      extensions: new Extensions([
        ext(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
        ext(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
        ext(id_ce_extKeyUsage, false, new ExtendedKeyUsage([EKU_CLIENT_AUTH])),
        ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(createHash('sha1').update(spkiDer.subarray(26)).digest())),
        ext(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(Buffer.from(issuing.keyId, 'hex')) })),
      ]),
    })
    const expected = Buffer.from(AsnConvert.serialize(tbs))
    const outer = readTlv(leaf.der, 0, leaf.der.length, 'der')!
    const got = readTlv(leaf.der, outer.contentStart, leaf.der.length, 'der')!
    expect(leaf.der.subarray(got.start, got.end).toString('hex')).to.equal(expected.toString('hex'))
    // and it verifies under the issuing CA, serial and fingerprint as the revocation schema spells them
    const x = new X509Certificate(leaf.der)
    expect(x.verify(new X509Certificate(issuing.cert).publicKey)).to.equal(true)
    expect(leaf.serial).to.equal('102030405060708090a0b0c0d0e0f10')
    expect(leaf.fingerprint).to.equal(createHash('sha256').update(leaf.der).digest('hex'))
  })

  it('issues for a good CSR: CN=<VIN>, OU=vehicle, O of the issuing CA, clientAuth, CA:false, the lifetime set here', function () {
    const d = signRequest(issuer, options(), VIN, der(buildCsr(key(), [['CN', VIN]])), new Date())
    if (!d.ok) throw new Error(d.reason)
    const x = new X509Certificate(d.value.der)
    expect(x.subject).to.equal(`O=fleetgate dev\nOU=vehicle\nCN=${VIN}`)
    expect(x.ca).to.equal(false)
    expect(x.checkIssued(new X509Certificate(issuing.cert))).to.equal(true)
    expect(d.value.notAfter.getTime() - d.value.notBefore.getTime()).to.be.within(3_600_000 + 59_000, 3_600_000 + 61_000)
  })

  it('ignores every other subject attribute of the CSR', function () {
    const d = signRequest(issuer, options(), VIN, der(buildCsr(key(), [['O', 'evil'], ['OU', 'fleet-backend'], ['CN', VIN]])))
    if (!d.ok) throw new Error(d.reason)
    expect(new X509Certificate(d.value.der).subject).to.equal(`O=fleetgate dev\nOU=vehicle\nCN=${VIN}`)
  })

  it('subject_mismatch: another VIN, no CN, or two CNs', function () {
    expect(signRequest(issuer, options(), VIN, der(buildCsr(key(), [['CN', OTHER]])))).to.deep.include({ ok: false, reason: 'subject_mismatch' })
    expect(signRequest(issuer, options(), VIN, der(buildCsr(key(), [['O', 'x']])))).to.deep.include({ ok: false, reason: 'subject_mismatch' })
    expect(signRequest(issuer, options(), VIN, der(buildCsr(key(), [['CN', VIN], ['CN', VIN]])))).to.deep.include({ ok: false, reason: 'subject_mismatch' })
  })

  it('key_not_allowed: P-384, before any signature check', function () {
    const csr = der(buildCsrP384())
    expect(isP256Key(parseRequest(csr)!)).to.equal(false)
    expect(signRequest(issuer, options(), VIN, csr)).to.deep.include({ ok: false, reason: 'key_not_allowed' })
  })

  it('bad_csr: a broken signature, a truncated or garbage CSR', function () {
    const good = der(buildCsr(key(), [['CN', VIN]]))
    const forged = Buffer.from(good); forged[forged.length - 1] ^= 1
    expect(signRequest(issuer, options(), VIN, forged)).to.deep.include({ ok: false, reason: 'bad_csr' })
    for (let cut = 1; cut < good.length; cut += 7) {
      expect(signRequest(issuer, options(), VIN, good.subarray(0, cut))).to.deep.include({ ok: false, reason: 'bad_csr' })
    }
    expect(signRequest(issuer, options(), VIN, Buffer.from('not a csr'))).to.deep.include({ ok: false, reason: 'bad_csr' })
    // not DER: the outer length with a leading zero octet (a certificate may have one, a CSR may not)
    const long = good[1]! & 0x7f
    expect(good[1]! & 0x80).to.equal(0x80)
    const nonMinimal = Buffer.concat([Buffer.from([0x30, 0x80 | (long + 1), 0]), good.subarray(2)])
    expect(signRequest(issuer, options(), VIN, nonMinimal)).to.deep.include({ ok: false, reason: 'bad_csr' })
  })

  it('proof of possession: the key taken is the CSR\'s own (coordinates in order), a point off the curve is bad_csr', function () {
    for (let i = 0; i < 20; i++) {
      const req = parseRequest(der(buildCsr(key(), [['CN', VIN]])))!
      const taken = verifyProofOfPossession(req)
      expect(taken, 'a good CSR verifies').to.not.equal(null)
      expect(Buffer.from(taken!.export({ type: 'spki', format: 'der' }))).to.deep.equal(req.spkiDer)
    }
    const good = der(buildCsr(key(), [['CN', VIN]]))
    const at = good.indexOf(parseRequest(good)!.publicKeyBits)
    const offCurve = Buffer.from(good); offCurve[at + 64] ^= 1
    expect(verifyProofOfPossession(parseRequest(offCurve)!)).to.equal(null)
    expect(signRequest(issuer, options(), VIN, offCurve)).to.deep.include({ ok: false, reason: 'bad_csr' })
  })

  it('runs CSR validators before modifiers, in list order (cheap first), and refuses to sign without proof of possession', function () {
    const p384 = der(buildCsrP384(OTHER))
    // both wrong: the key check comes first
    expect(signRequest(issuer, options(), VIN, p384)).to.deep.include({ reason: 'key_not_allowed' })
    const noPop: SignOption[] = [p256KeyValidator, commonNameValidator(VIN), ...options().filter((o) => o.kind !== 'csr')]
    expect(() => signRequest(issuer, noPop, VIN, der(buildCsr(key(), [['CN', VIN]])))).to.throw(SignOptionError)
  })

  it('reads the CN of PrintableString subjects (openssl\'s default) too', function () {
    const req = parseRequest(der(buildCsr(key(), [['CN', VIN]])))!
    expect(requestCommonName(req)).to.equal(VIN)
  })

  it('refuses a CA key that does not match its certificate', function () {
    expect(() => createFastIssuer(issuing.cert, root.key)).to.throw(/does not match/)
    expect(() => createFastIssuer(issuing.cert, key())).to.throw(/does not match/)
  })

  it('loadIssuer: a key that is not the CA\'s names both flags', function () {
    const dir = mkdtempSync(join(tmpdir(), 'fg-issuer-'))
    const cert = join(dir, 'issuing-ca.pem')
    const wrong = join(dir, 'root-ca.key')
    writeFileSync(cert, issuing.certPem)
    writeFileSync(wrong, privateKeyToPem(root.key))
    expect(() => loadIssuer(cert, wrong)).to.throw(`--issuer-key ${wrong}: does not match --issuer-cert ${cert}`)
  })

  it('a P-384 issuing CA: its key identifier through the general SPKI path, ecdsa-with-SHA384', async function () {
    const p384 = await createIntermediateCa(root, 'issuing', { key: key('secp384r1') })
    const spki = createPublicKey(p384.key).export({ type: 'spki', format: 'der' })
    expect(p384.keyId).to.equal(createHash('sha1').update(new Uint8Array(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey)).digest('hex'))
    expect(keyIdentifier(spki)).to.equal(p384.keyId)
    const d = signRequest(createFastIssuer(p384.cert, p384.key), options(), VIN, der(buildCsr(key(), [['CN', VIN]])))
    if (!d.ok) throw new Error(d.reason)
    const x = new X509Certificate(d.value.der)
    expect(x.verify(new X509Certificate(p384.cert).publicKey)).to.equal(true)
    const cert = AsnConvert.parse(d.value.der, Certificate)
    expect(cert.signatureAlgorithm.algorithm).to.equal('1.2.840.10045.4.3.3')
    const aki = cert.tbsCertificate.extensions!.find((e) => e.extnID === id_ce_authorityKeyIdentifier)!
    expect(Buffer.from(AsnConvert.parse(aki.extnValue.buffer, AuthorityKeyIdentifier).keyIdentifier!.buffer).toString('hex')).to.equal(p384.keyId)
  })
})

/** a P-384 CSR by hand: the CSR builder signs with SHA-256, which is fine for a key-type test */
function buildCsrP384 (cn = VIN): string {
  return buildCsr(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey, [['CN', cn]])
}
