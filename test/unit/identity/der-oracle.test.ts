// The fast DER reader (src/identity/der.ts) must read every certificate exactly
// as the @peculiar/asn1-schema parse does, and refuse malformed input cleanly.
import { expect } from 'chai'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate, randomInt } from 'node:crypto'
import { parseCertificate } from '../../../src/identity/index.js'
import { DerError, readTlv } from '../../../src/identity/der.js'
import { parseCertificateWithSchemas } from './schema-oracle.js'
import { testPki } from '../../harness/pki.js'

function certsUnder (dir: string): Buffer[] {
  const out: Buffer[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...certsUnder(p))
    else if (name.endsWith('.pem') && !name.includes('key')) {
      for (const block of readFileSync(p, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) out.push(new X509Certificate(block).raw)
    }
  }
  return out
}

function opensslCert (subj: string, ext: string, extra: string[] = [], conf = ''): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'fg-der-'))
  writeFileSync(join(dir, 'c.cnf'), `[req]\ndistinguished_name=dn\n${conf}\n[dn]\n[e]\n${ext}\n`)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'),
    '-subj', subj, '-days', '1', '-extensions', 'e', '-config', join(dir, 'c.cnf'), '-out', join(dir, 'c.pem'), ...extra], { stdio: 'pipe' })
  return new X509Certificate(readFileSync(join(dir, 'c.pem'))).raw
}

/**
 * `der` with non-minimal lengths (not DER, but OpenSSL reads them: a CA's
 * certificate made so passes the TLS handshake): the [0] version's length in
 * long form, and the outer length with a leading zero octet.
 */
function nonMinimalLengths (der: Buffer): Buffer {
  const derLength = (n: number): Buffer => Buffer.from(n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff])
  const cert = readTlv(der, 0, der.length, 'der')!
  const tbs = readTlv(der, cert.contentStart, der.length, 'der')!
  const version = readTlv(der, tbs.contentStart, der.length, 'der')!
  expect(version.tag).to.equal(0xa0)
  const tbsBody = Buffer.concat([Buffer.from([0xa0, 0x81, version.end - version.contentStart]), der.subarray(version.contentStart, tbs.end)])
  const body = Buffer.concat([Buffer.from([0x30]), derLength(tbsBody.length), tbsBody, der.subarray(tbs.end)])
  const outer = derLength(body.length)
  expect(outer[0]).to.be.greaterThan(0x80)
  return Buffer.concat([Buffer.from([0x30, outer[0]! + 1, 0]), outer.subarray(1), body])
}

function same (der: Buffer): void {
  const fast = parseCertificate(der)
  const oracle = parseCertificateWithSchemas(der)
  expect({ ...fast, san: { ...fast.san } }).to.deep.equal({ ...oracle, san: { ...oracle.san } })
}

describe('identity: DER reader against the asn1-schema oracle', function () {
  this.timeout(60_000)

  it('reads every certificate of the dev PKI exactly as the oracle', async () => {
    const pki = await testPki()
    const all = certsUnder(pki.dir)
    expect(all.length).to.be.greaterThan(20)
    for (const der of all) same(der)
  })

  it('reads exotic names and extensions exactly as the oracle', () => {
    const cases: Buffer[] = [
      opensslCert('/O=Acme, Inc./OU=vehicle+CN=1HGCM82633A004352', 'extendedKeyUsage=clientAuth,1.2.3.4.5', ['-multivalue-rdn']),
      opensslCert('/C=DE/ST=Bayern/L=München/O=Fahrzeug GmbH/CN=Zürich Δ', 'subjectAltName=DNS:a.example,DNS:b.example,IP:::1,IP:10.0.0.1,email:x@y.z,URI:spiffe://fleet/car', ['-utf8']),
      opensslCert('/CN=bmp Ω', 'certificatePolicies=1.3.6.1.4.1.99999.1,2.23.140.1.2.1', ['-utf8'], 'string_mask=default'),
      opensslCert('/serialNumber=123/emailAddress=a@b.c/DC=example/UID=u1/1.2.3.4=custom', 'basicConstraints=critical,CA:FALSE'),
      opensslCert('/CN=long-lived', 'keyUsage=digitalSignature', ['-days', '20000']), // GeneralizedTime after 2049
      // CRL distribution points: two full names (one ldap), one with reasons and a cRLIssuer, one relative name (no URI)
      opensslCert('/CN=cdp', 'crlDistributionPoints=dp1,dp2,dp3', [],
        '[dp1]\nfullname=URI:http://ca.example/a.crl,URI:ldap://ca.example/x\n[dp2]\nfullname=URI:https://ca.example/b.crl\nreasons=keyCompromise\nCRLissuer=dirName:issuer_sect\n' +
        '[issuer_sect]\nCN=crl issuer\n[dp3]\nrelativename=rel_sect\n[rel_sect]\nCN=part1\n'),
    ]
    for (const der of cases) same(der)
    const utf8 = parseCertificate(cases[1]!)
    expect(utf8.subject.L).to.deep.equal(['München'])
    expect(utf8.san.ip).to.deep.equal(['::1', '10.0.0.1'])
    expect(parseCertificate(cases[0]!).subject).to.deep.equal({ O: ['Acme, Inc.'], OU: ['vehicle'], CN: ['1HGCM82633A004352'] })
    expect(parseCertificate(cases[4]!).notAfter.getUTCFullYear()).to.be.greaterThan(2049)
    expect(parseCertificate(cases[5]!).crl).to.deep.equal(['http://ca.example/a.crl', 'ldap://ca.example/x', 'https://ca.example/b.crl'])
  })

  it('reads a certificate with non-minimal lengths exactly as the oracle (OpenSSL accepts them in the handshake)', async () => {
    const pki = await testPki()
    const leaf = certsUnder(pki.vehicle(0))[0]!
    const odd = nonMinimalLengths(leaf)
    expect(readTlv(odd, 0, odd.length, 'der')).to.equal(null) // not DER: a CSR like it is refused
    same(odd)
    expect(parseCertificate(odd).subject).to.deep.equal(parseCertificate(leaf).subject)
  })

  it('refuses truncated and mutated certificates with a DerError, never another exception (bounded fuzz)', async () => {
    const pki = await testPki()
    const seeds = certsUnder(pki.vehicle(0))
    let refused = 0
    for (let n = 0; n < 3000; n++) {
      const der = Buffer.from(seeds[n % seeds.length]!)
      if (n % 3 === 0) {
        const cut = der.subarray(0, randomInt(0, der.length))
        expect(() => parseCertificate(cut)).to.throw(DerError)
        refused++
        continue
      }
      for (let k = 0; k < 1 + (n % 4); k++) der[randomInt(0, der.length)] = randomInt(0, 256)
      try { parseCertificate(der) } catch (err) {
        expect(err, String(err)).to.be.instanceOf(DerError)
        refused++
      }
    }
    expect(refused).to.be.greaterThan(1000)
  })
})
