import { expect } from 'chai'
import { X509Certificate } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { parsePolicy } from '../../../src/policy/index.js'
import { isFleetgateError } from '../../../src/contract/errors.js'
import {
  devPkiPaths, hasValidCheckDigit, initDevPki, issueCertificates, issueLeaf, loadCa, loadCaFiles, loadPki, readPemCertificates,
  readPrivateKey, type DevPkiManifest, type DevPkiPaths,
} from '../../../src/pki/index.js'
import { openssl, rejects, tempDir } from './helpers.js'

function mode (path: string): number {
  return statSync(path).mode & 0o777
}

function subject (path: string): string {
  const r = openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', path])
  expect(r.status, r.stderr).to.equal(0)
  return r.stdout.trim().replace(/^subject=/, '')
}

describe('pki/dev-pki', function () {
  this.timeout(30000)
  let t: ReturnType<typeof tempDir>
  let manifest: DevPkiManifest
  let p: DevPkiPaths
  let initMs = 0

  before(async () => {
    t = tempDir('init')
    const progress: number[] = []
    const start = performance.now()
    manifest = await initDevPki(t.dir, { onProgress: (done, total) => { progress.push(done); expect(done).to.be.at.most(total) } })
    initMs = performance.now() - start
    p = devPkiPaths(t.dir, manifest.vins)
    expect(progress.length).to.be.above(10)
  })
  after(() => { t.cleanup() })

  function verify (leaf: string, untrusted: string, purpose?: string): { ok: boolean; out: string } {
    const r = openssl(['verify', ...(purpose === undefined ? [] : ['-purpose', purpose]), '-CAfile', p.root.cert, '-untrusted', untrusted, leaf])
    return { ok: r.status === 0, out: r.stdout + r.stderr }
  }

  it(`writes the manifest (init took well under the timeout)`, () => {
    expect(initMs).to.be.below(10000)
    const onDisk = JSON.parse(readFileSync(p.manifest, 'utf8')) as Record<string, unknown>
    expect(Object.keys(onDisk).sort()).to.deep.equal(['backend', 'createdAt', 'monitor', 'provisioner', 'version', 'vins'])
    expect(onDisk).to.deep.include({ version: 1, backend: 'fleet-backend', monitor: 'fleet-monitor', provisioner: 'fleet-provisioner' })
    expect(new Date(onDisk.createdAt as string).toISOString()).to.equal(onDisk.createdAt)
    expect(manifest.vins).to.have.length(3)
    expect(onDisk.vins).to.deep.equal(manifest.vins)
  })

  it('writes the exact layout', () => {
    const top = readdirSync(t.dir).sort()
    expect(top).to.deep.equal(['attack', 'backend', 'broker', 'ca-bundle.pem', 'issuing-ca.key', 'issuing-ca.pem', 'manifest.json',
      'manufacturing-ca.key', 'manufacturing-ca.pem', 'monitor', 'policy.yaml', 'provisioner', 'rogue', 'root-ca.key', 'root-ca.pem', 'vehicles'])
    expect(readdirSync(join(t.dir, 'vehicles')).sort()).to.deep.equal([...manifest.vins].sort())
    for (const vin of manifest.vins) {
      expect(readdirSync(join(t.dir, 'vehicles', vin)).sort()).to.deep.equal(['birth-cert.pem', 'birth-key.pem', 'cert.pem', 'key.pem'])
    }
    for (const d of ['broker', 'backend', 'monitor', 'provisioner', 'rogue/vehicle', 'attack/expired', 'attack/no-eku', 'attack/server-eku', 'attack/victim']) {
      expect(readdirSync(join(t.dir, d)).sort(), d).to.deep.equal(['cert.pem', 'key.pem'])
    }
    expect(readdirSync(join(t.dir, 'rogue')).sort()).to.deep.equal(['ca.key', 'ca.pem', 'vehicle'])
    expect(readdirSync(join(t.dir, 'attack')).sort()).to.deep.equal(['expired', 'no-eku', 'prefix-victim', 'server-eku', 'signer-key-encipherment', 'signer-no-eku', 'signer-server-eku', 'signer-two-ous', 'victim'])
  })

  it('writes policy.yaml: the shipped policy with every role pinned by its CA\'s key too (SPKI SHA-256, as openssl computes it)', () => {
    const spki = (ca: string) => {
      const r = spawnSync('sh', ['-c', `openssl x509 -in '${ca}' -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r`], { encoding: 'utf8' })
      expect(r.status, r.stderr).to.equal(0)
      return r.stdout.split(' ')[0]!
    }
    const text = readFileSync(p.policy, 'utf8')
    const policy = parsePolicy(text, p.policy)
    expect(policy.roles).to.deep.equal(['vehicle', 'fleet-backend', 'fleet-monitor', 'factory', 'provisioner', 'phone', 'quarantine', 'repair-service'])
    expect(text.match(/issuerKey: "([0-9a-f]{64})"/g)).to.have.length(8)
    expect(text.match(new RegExp(`issuer: \\{ CN: "fleetgate Issuing CA" \\}, issuerKey: "${spki(p.issuing.cert)}"`, 'g'))).to.have.length(7)
    expect(text.match(new RegExp(`issuer: \\{ CN: "fleetgate Manufacturing CA" \\}, issuerKey: "${spki(p.manufacturing.cert)}"`, 'g'))).to.have.length(1)
  })

  it('makes valid ISO 3779 VINs with correct check digits', () => {
    for (const vin of manifest.vins) {
      expect(vin).to.match(/^[A-HJ-NPR-Z0-9]{17}$/)
      expect(hasValidCheckDigit(vin), vin).to.equal(true)
    }
  })

  it('creates every private key 0600 and key-holding directories 0700', () => {
    const keys = [p.root.key, p.issuing.key, p.manufacturing.key, p.broker.key, p.backend.key, p.monitor.key, p.provisioner.key,
      p.rogue.ca.key, p.rogue.vehicle.key, p.attack.expired.key, p.attack.noEku.key, p.attack.serverEku.key, p.attack.victim.key,
      ...Object.values(p.attack.signers).map((x) => x.key), p.attack.prefixVictim.key,
      ...p.vehicles.flatMap((v) => [v.key, v.birthKey])]
    for (const k of keys) {
      expect(mode(k), k).to.equal(0o600)
      expect(readFileSync(k, 'utf8')).to.match(/^-----BEGIN PRIVATE KEY-----\n/)
    }
    for (const d of ['broker', 'vehicles', join('vehicles', manifest.vins[0]!), 'rogue', 'attack/victim']) {
      expect(mode(join(t.dir, d)), d).to.equal(0o700)
    }
  })

  it('pins the CA subject CNs and puts the root alone in ca-bundle.pem', () => {
    expect(subject(p.root.cert)).to.equal('CN=fleetgate Root CA,O=fleetgate dev')
    expect(subject(p.issuing.cert)).to.equal('CN=fleetgate Issuing CA,O=fleetgate dev')
    expect(subject(p.manufacturing.cert)).to.equal('CN=fleetgate Manufacturing CA,O=fleetgate dev')
    expect(subject(p.rogue.ca.cert)).to.equal('CN=fleetgate Rogue CA,O=fleetgate dev')
    const bundle = readPemCertificates(p.caBundle)
    expect(bundle).to.have.length(1)
    expect(bundle[0]!.equals(readPemCertificates(p.root.cert)[0]!)).to.equal(true)
  })

  it('broker: chains to the root via the issuing CA; serverAuth, SAN localhost/127.0.0.1/::1, SKI/AKI', () => {
    const v = verify(p.broker.cert, p.issuing.cert, 'sslserver')
    expect(v.ok, v.out).to.equal(true)
    expect(v.out).to.contain(': OK')
    const chain = readPemCertificates(p.broker.cert)
    expect(chain).to.have.length(2)
    expect(chain[1]!.equals(readPemCertificates(p.issuing.cert)[0]!)).to.equal(true)
    const r = openssl(['x509', '-noout', '-text', '-in', p.broker.cert])
    expect(r.stdout).to.match(/X509v3 Extended Key Usage: \s*\n\s+TLS Web Server Authentication\n/)
    expect(r.stdout).to.match(/X509v3 Key Usage: critical\s*\n\s+Digital Signature\n/)
    expect(r.stdout).to.match(/X509v3 Basic Constraints: critical\s*\n\s+CA:FALSE/)
    expect(r.stdout).to.match(/DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/)
    const ski = /Subject Key Identifier: \s*\n\s+([0-9A-F:]+)/.exec(r.stdout)?.[1]
    const aki = /Authority Key Identifier: \s*\n\s+(?:keyid:)?([0-9A-F:]+)/.exec(r.stdout)?.[1]
    const issuingText = openssl(['x509', '-noout', '-text', '-in', p.issuing.cert]).stdout
    const issuingSki = /Subject Key Identifier: \s*\n\s+([0-9A-F:]+)/.exec(issuingText)?.[1]
    expect(ski).to.be.a('string')
    expect(aki).to.equal(issuingSki)
    expect(new X509Certificate(chain[0]!).checkPrivateKey(readPrivateKey(p.broker.key))).to.equal(true)
  })

  it('vehicles verify with -purpose sslclient; birth certificates chain through the manufacturing CA', () => {
    for (const v of p.vehicles) {
      const op = verify(v.cert, p.issuing.cert, 'sslclient')
      expect(op.ok, op.out).to.equal(true)
      expect(subject(v.cert)).to.equal(`CN=${v.vin},OU=vehicle,O=fleetgate dev`)
      const r = openssl(['x509', '-noout', '-text', '-in', v.cert]).stdout
      expect(r).to.match(/TLS Web Client Authentication/)
      const birth = verify(v.birthCert, p.manufacturing.cert, 'sslclient')
      expect(birth.ok, birth.out).to.equal(true)
      expect(subject(v.birthCert)).to.equal(`CN=${v.vin},OU=factory,O=fleetgate dev`)
      expect(verify(v.birthCert, p.issuing.cert).ok).to.equal(false)
      const chain = readPemCertificates(v.birthCert)
      expect(chain[1]!.equals(readPemCertificates(p.manufacturing.cert)[0]!)).to.equal(true)
      const notAfter = new Date(new X509Certificate(chain[0]!).validTo).getTime()
      expect(notAfter - Date.now()).to.be.above(9.9 * 365 * 86_400_000)
      expect(new X509Certificate(readPemCertificates(v.cert)[0]!).checkPrivateKey(readPrivateKey(v.key))).to.equal(true)
    }
  })

  it('backend, monitor, provisioner: their OUs and CNs, clientAuth', () => {
    expect(subject(p.backend.cert)).to.equal('CN=fleet-backend,OU=fleet-backend,O=fleetgate dev')
    expect(subject(p.monitor.cert)).to.equal('CN=fleet-monitor,OU=fleet-monitor,O=fleetgate dev')
    expect(subject(p.provisioner.cert)).to.equal('CN=fleet-provisioner,OU=provisioner,O=fleetgate dev')
    for (const c of [p.backend.cert, p.monitor.cert, p.provisioner.cert]) expect(verify(c, p.issuing.cert, 'sslclient').ok, c).to.equal(true)
  })

  it('the rogue look-alike has the first vehicle\'s subject but does NOT verify against the root', () => {
    expect(subject(p.rogue.vehicle.cert)).to.equal(subject(p.vehicles[0]!.cert))
    const v = verify(p.rogue.vehicle.cert, p.rogue.ca.cert, 'sslclient')
    expect(v.ok).to.equal(false)
    expect(verify(p.rogue.vehicle.cert, p.issuing.cert).ok).to.equal(false)
    const chain = readPemCertificates(p.rogue.vehicle.cert)
    expect(chain).to.have.length(2)
    expect(chain[1]!.equals(readPemCertificates(p.rogue.ca.cert)[0]!)).to.equal(true)
    const self = openssl(['verify', '-CAfile', p.rogue.ca.cert, p.rogue.vehicle.cert])
    expect(self.status, self.stderr).to.equal(0)
  })

  it('attack material: expired (2nd VIN), no EKU, serverAuth only, a separate victim certificate', () => {
    const expired = verify(p.attack.expired.cert, p.issuing.cert)
    expect(expired.ok).to.equal(false)
    expect(expired.out).to.contain('certificate has expired')
    const expiredCert = new X509Certificate(readPemCertificates(p.attack.expired.cert)[0]!)
    const validTo = new Date(expiredCert.validTo).getTime()
    expect(validTo).to.be.below(Date.now() - 23 * 3_600_000)
    expect(validTo).to.be.above(Date.now() - 25 * 3_600_000)
    expect(subject(p.attack.expired.cert)).to.equal(`CN=${manifest.vins[1]},OU=vehicle,O=fleetgate dev`)

    const noEku = openssl(['x509', '-noout', '-text', '-in', p.attack.noEku.cert]).stdout
    expect(noEku).to.not.contain('Extended Key Usage')
    expect(verify(p.attack.noEku.cert, p.issuing.cert).ok).to.equal(true)

    const serverEku = openssl(['x509', '-noout', '-text', '-in', p.attack.serverEku.cert]).stdout
    expect(serverEku).to.match(/Extended Key Usage: \s*\n\s+TLS Web Server Authentication\n/)
    expect(verify(p.attack.serverEku.cert, p.issuing.cert, 'sslclient').ok).to.equal(false)

    // command signers a car must refuse (security review 8), each chaining to the issuing CA
    const signers = p.attack.signers
    expect(openssl(['x509', '-noout', '-text', '-in', signers.serverEku.cert]).stdout).to.match(/Extended Key Usage: \s*\n\s+TLS Web Server Authentication\n/)
    expect(openssl(['x509', '-noout', '-text', '-in', signers.noEku.cert]).stdout).to.not.contain('Extended Key Usage')
    expect(openssl(['x509', '-noout', '-text', '-in', signers.keyEncipherment.cert]).stdout).to.match(/Key Usage: critical\s*\n\s+Key Encipherment\n/)
    expect(subject(signers.twoOus.cert)).to.equal('CN=signer-two-ous,OU=fleet-monitor,OU=fleet-backend,O=fleetgate dev')
    for (const s of Object.values(signers)) expect(verify(s.cert, p.issuing.cert).ok, s.cert).to.equal(true)

    expect(subject(p.attack.victim.cert)).to.equal(subject(p.vehicles[0]!.cert))
    expect(verify(p.attack.victim.cert, p.issuing.cert, 'sslclient').ok).to.equal(true)
    const victim = new X509Certificate(readPemCertificates(p.attack.victim.cert)[0]!)
    const first = new X509Certificate(readPemCertificates(p.vehicles[0]!.cert)[0]!)
    expect(victim.serialNumber).to.not.equal(first.serialNumber)
    expect(victim.fingerprint256).to.not.equal(first.fingerprint256)
  })

  it('refuses to overwrite an existing PKI unless forced', async () => {
    const before = readFileSync(p.root.cert, 'utf8')
    const err = await rejects(initDevPki(t.dir))
    expect(isFleetgateError(err) && err.code).to.equal('FG_ERR_PKI_EXISTS')
    expect(isFleetgateError(err) && err.toLine()).to.not.contain('\n')
    expect(err.message).to.contain(t.dir)
    expect(readFileSync(p.root.cert, 'utf8')).to.equal(before)
  })

  it('loadPki and loadCa read the directory back', async () => {
    const loaded = loadPki(t.dir)
    expect(loaded.manifest).to.deep.equal(manifest)
    expect(loaded.paths).to.deep.equal(p)
    for (const kind of ['root', 'issuing', 'manufacturing'] as const) {
      const ca = await loadCa(t.dir, kind)
      expect(ca.cert.equals(readPemCertificates(join(t.dir, `${kind}-ca.pem`))[0]!)).to.equal(true)
      expect(ca.key.type).to.equal('private')
    }
    const issuing = await loadCa(t.dir, 'issuing')
    const leaf = await issueLeaf(issuing, 'vehicle', manifest.vins[0]!)
    const file = join(t.dir, 'extra.pem')
    writeFileSync(file, leaf.certPem)
    expect(verify(file, p.issuing.cert, 'sslclient').ok).to.equal(true)
    // the provisioner's --issuer-key may be SEC1 (openssl's default for EC keys)
    const sec1 = join(t.dir, 'issuing-sec1.key')
    const conv = openssl(['ec', '-in', p.issuing.key, '-out', sec1])
    expect(conv.status, conv.stderr).to.equal(0)
    expect(readFileSync(sec1, 'utf8')).to.contain('BEGIN EC PRIVATE KEY')
    const fromSec1 = await loadCaFiles(p.issuing.cert, sec1)
    expect(fromSec1.keyId).to.equal(issuing.keyId)
    const mismatch = await rejects(loadCaFiles(p.issuing.cert, p.root.key))
    expect(isFleetgateError(mismatch) && mismatch.toLine()).to.equal(`FG_ERR_KEY_MISMATCH: ${p.root.key}: does not match ${p.issuing.cert}`)
    const err = (() => { try { loadPki(join(t.dir, 'vehicles')) } catch (e) { return e as Error } return null })()
    expect(err !== null && isFleetgateError(err) && err.code).to.equal('FG_ERR_PKI_INVALID')
  })

  describe('issueCertificates', () => {
    it('issues --count 5 vehicles with random VINs and reports progress', async () => {
      const out = join(t.dir, 'issued-vehicles')
      const seen: Array<[number, number]> = []
      const r = await issueCertificates({ pkiDir: t.dir, role: 'vehicle', count: 5, outDir: out, onProgress: (d, n) => seen.push([d, n]) })
      expect(r.issued).to.have.length(5)
      expect(r.issuer).to.equal('fleetgate Issuing CA')
      expect(seen.map(([d]) => d)).to.deep.equal([1, 2, 3, 4, 5])
      expect(seen.every(([, n]) => n === 5)).to.equal(true)
      expect(readdirSync(out).sort()).to.deep.equal(r.issued.map((i) => i.commonName).sort())
      for (const i of r.issued) {
        expect(hasValidCheckDigit(i.commonName)).to.equal(true)
        expect(i.cert).to.equal(join(out, i.commonName, 'cert.pem'))
        expect(mode(i.key!)).to.equal(0o600)
        const v = verify(i.cert, p.issuing.cert, 'sslclient')
        expect(v.ok, v.out).to.equal(true)
        expect(subject(i.cert)).to.equal(`CN=${i.commonName},OU=vehicle,O=fleetgate dev`)
      }
    })

    it('names other roles <role>-<n>; factory comes from the manufacturing CA; server gets serverAuth', async () => {
      const out = join(t.dir, 'issued-other')
      const b = await issueCertificates({ pkiDir: t.dir, role: 'fleet-backend', count: 3, outDir: out })
      expect(b.issued.map((i) => i.commonName)).to.deep.equal(['fleet-backend-1', 'fleet-backend-2', 'fleet-backend-3'])
      const f = await issueCertificates({ pkiDir: t.dir, role: 'factory', cn: manifest.vins[0]!, outDir: out })
      expect(f.issuer).to.equal('fleetgate Manufacturing CA')
      expect(verify(f.issued[0]!.cert, p.manufacturing.cert, 'sslclient').ok).to.equal(true)
      const s = await issueCertificates({ pkiDir: t.dir, role: 'server', cn: 'mqtt.example.com', outDir: out })
      expect(verify(s.issued[0]!.cert, p.issuing.cert, 'sslserver').ok).to.equal(true)
      const text = openssl(['x509', '-noout', '-text', '-in', s.issued[0]!.cert]).stdout
      expect(text).to.contain('DNS:mqtt.example.com')
    })

    it('certifies a CSR\'s key (no key.pem), CN from --cn or the CSR', async () => {
      const out = join(t.dir, 'issued-csr')
      const csrPath = join(t.dir, 'car.csr')
      const vin = manifest.vins[2]!
      const r = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(t.dir, 'car.key'),
        '-subj', `/O=Other/OU=fleet-backend/CN=${vin}`, '-out', csrPath])
      expect(r.status, r.stderr).to.equal(0)
      const res = await issueCertificates({ pkiDir: t.dir, role: 'vehicle', csrPath, outDir: out })
      expect(res.issued[0]!.key).to.equal(null)
      expect(readdirSync(join(out, vin))).to.deep.equal(['cert.pem'])
      expect(subject(res.issued[0]!.cert)).to.equal(`CN=${vin},OU=vehicle,O=fleetgate dev`)
      const leaf = new X509Certificate(readPemCertificates(res.issued[0]!.cert)[0]!)
      expect(leaf.checkPrivateKey(readPrivateKey(join(t.dir, 'car.key')))).to.equal(true)
      const other = manifest.vins[1]!
      const named = await issueCertificates({ pkiDir: t.dir, role: 'vehicle', csrPath, cn: other, outDir: out })
      expect(subject(named.issued[0]!.cert)).to.equal(`CN=${other},OU=vehicle,O=fleetgate dev`)
    })

    it('refuses bad requests in one line', async () => {
      const out = join(t.dir, 'issued-bad')
      const cases: Array<[Parameters<typeof issueCertificates>[0], string]> = [
        [{ pkiDir: t.dir, role: 'admin', cn: 'x', outDir: out }, 'FG_ERR_CONFIG_INVALID'],
        [{ pkiDir: t.dir, role: 'vehicle', outDir: out }, 'FG_ERR_CONFIG_MISSING'],
        [{ pkiDir: t.dir, role: 'vehicle', cn: manifest.vins[0]!, count: 2, outDir: out }, 'FG_ERR_USAGE'],
        [{ pkiDir: t.dir, role: 'vehicle', count: 0, outDir: out }, 'FG_ERR_CONFIG_INVALID'],
        [{ pkiDir: t.dir, role: 'vehicle', cn: 'not-a-vin', outDir: out }, 'FG_ERR_CONFIG_INVALID'],
        [{ pkiDir: t.dir, role: 'fleet-backend', cn: '../escape', outDir: out }, 'FG_ERR_CONFIG_INVALID'],
        [{ pkiDir: t.dir, role: 'fleet-backend', cn: 'a+b', outDir: out }, 'FG_ERR_CONFIG_INVALID'],
        [{ pkiDir: join(t.dir, 'nowhere'), role: 'fleet-backend', cn: 'ok', outDir: out }, 'FG_ERR_FILE_UNREADABLE'],
        [{ pkiDir: t.dir, role: 'vehicle', csrPath: join(t.dir, 'missing.csr'), outDir: out }, 'FG_ERR_FILE_UNREADABLE'],
      ]
      for (const [opts, code] of cases) {
        const err = await rejects(issueCertificates(opts))
        expect(isFleetgateError(err) && err.code, `${JSON.stringify(opts)}: ${err.message}`).to.equal(code)
        expect(err.message).to.not.contain('\n')
      }
      expect(existsSync(join(t.dir, 'escape'))).to.equal(false)
    })
  })

  it('re-initialises with force, dropping the previous sample vehicles', async () => {
    const oldVins = manifest.vins
    const oldRoot = readFileSync(p.root.cert, 'utf8')
    const m = await initDevPki(t.dir, { force: true, vehicles: 2 })
    expect(m.vins).to.have.length(2)
    expect(readFileSync(p.root.cert, 'utf8')).to.not.equal(oldRoot)
    for (const vin of oldVins) expect(existsSync(join(t.dir, 'vehicles', vin))).to.equal(false)
    expect(readdirSync(join(t.dir, 'vehicles')).sort()).to.deep.equal([...m.vins].sort())
    expect(mode(join(t.dir, 'root-ca.key'))).to.equal(0o600)
    const loaded = loadPki(t.dir)
    const r = openssl(['verify', '-CAfile', loaded.paths.root.cert, '-untrusted', loaded.paths.issuing.cert, loaded.paths.broker.cert])
    expect(r.status, r.stderr).to.equal(0)
  })
})
