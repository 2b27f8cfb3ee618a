// Known answers: certificates made by the openssl CLI, read by our parser.
import { expect } from 'chai'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate, createHash } from 'node:crypto'
import { parseCertificate, identityFromChain, caInfoOf, checkIdentity, normaliseSerial, serialHex, IdentityCache } from '../../../src/identity/index.js'

function openssl (dir: string, subj: string, serial: string, ext: string): Buffer {
  const cnf = join(dir, 'ext.cnf')
  writeFileSync(cnf, `[req]\ndistinguished_name=dn\n[dn]\n[e]\n${ext}\n`)
  const key = join(dir, 'k.pem'); const out = join(dir, 'c.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
    '-subj', subj, '-set_serial', serial, '-days', '1', '-extensions', 'e', '-config', cnf, '-out', out], { stdio: 'pipe' })
  return new X509Certificate(readFileSync(out)).raw
}

describe('identity: parse (known answers from openssl)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-id-'))
  let der: Buffer
  before(() => {
    der = openssl(dir, '/C=DE/O=fleetgate dev/OU=vehicle/CN=1HGCM82633A004352', '0x0ABC',
      'extendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=DNS:car.example,URI:urn:vin:1HGCM82633A004352,IP:10.1.2.3\ncertificatePolicies=1.3.6.1.4.1.99999.1')
  })

  it('reads subject, SAN, EKU, policies; serial in lowercase hex without leading zeros', () => {
    const p = parseCertificate(der)
    expect(p.subject).to.deep.equal({ C: ['DE'], O: ['fleetgate dev'], OU: ['vehicle'], CN: ['1HGCM82633A004352'] })
    expect(p.serial).to.equal('abc')
    expect(p.fingerprint).to.equal(createHash('sha256').update(der).digest('hex'))
    expect(p.eku).to.deep.equal(['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1'])
    expect(p.san.dns).to.deep.equal(['car.example'])
    expect(p.san.uri).to.deep.equal(['urn:vin:1HGCM82633A004352'])
    expect(p.san.ip).to.deep.equal(['10.1.2.3'])
    expect(p.policies).to.deep.equal(['1.3.6.1.4.1.99999.1'])
    expect(p.selfIssued).to.equal(true)
    expect(p.notAfter.getTime()).to.equal(new Date(new X509Certificate(der).validTo).getTime())
  })

  it('gives null EKU when the extension is absent (no_client_auth)', () => {
    const d = mkdtempSync(join(tmpdir(), 'fg-id-'))
    const noEku = openssl(d, '/OU=vehicle/CN=1HGCM82633A004352', '1', 'basicConstraints=CA:FALSE')
    const id = identityFromChain([noEku], (c) => caInfoOf(c, null))
    expect(id.eku).to.equal(null)
    expect(checkIdentity(id)).to.deep.include({ ok: false, reason: 'no_client_auth' })
  })

  it('refuses wildcard and control characters in any subject value (identity_injection)', () => {
    for (const cn of ['A+B', 'A#', 'a/b']) {
      const d = mkdtempSync(join(tmpdir(), 'fg-id-'))
      const c = openssl(d, `/OU=vehicle/CN=${cn.replace(/[+/]/g, (ch) => "\\" + ch)}`, '2', 'extendedKeyUsage=clientAuth')
      expect(checkIdentity(identityFromChain([c], (x) => caInfoOf(x, null))), cn).to.deep.include({ ok: false, reason: 'identity_injection' })
    }
  })

  it('accepts a clean client certificate', () => {
    const d = mkdtempSync(join(tmpdir(), 'fg-id-'))
    const c = openssl(d, '/OU=vehicle/CN=1HGCM82633A004352', '3', 'extendedKeyUsage=clientAuth')
    expect(checkIdentity(identityFromChain([c], (x) => caInfoOf(x, null)))).to.deep.equal({ ok: true })
  })

  it('refuses C1 control characters and DEL as the policy does (one definition: isSafeIdentityValue)', () => {
    const d = mkdtempSync(join(tmpdir(), 'fg-id-'))
    const clean = identityFromChain([openssl(d, '/OU=vehicle/CN=1HGCM82633A004352', '4', 'extendedKeyUsage=clientAuth')], (x) => caInfoOf(x, null))
    for (const cn of ['AB\u0085C', 'AB\u009fC', 'AB\u007fC']) {
      const id = { ...clean, subject: { ...clean.subject, CN: [cn] } }
      expect(checkIdentity(id), JSON.stringify(cn)).to.deep.include({ ok: false, reason: 'identity_injection' })
    }
  })

  it('normalises every serial spelling to the stored form', () => {
    expect(normaliseSerial('0A:BC')).to.equal('abc')
    expect(normaliseSerial('0x0ABC')).to.equal('abc')
    expect(normaliseSerial('00')).to.equal('0')
    expect(normaliseSerial('zz')).to.equal(null)
    expect(serialHex(new Uint8Array([0, 1]))).to.equal('1')
  })

  it('caches identities by leaf fingerprint: the same object for a reconnect', () => {
    const cache = new IdentityCache(2)
    const a = cache.fromChain([der])
    expect(cache.fromChain([der])).to.equal(a)
  })
})
