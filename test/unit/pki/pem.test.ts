import { expect } from 'chai'
import { statSync, writeFileSync, chmodSync } from 'node:fs'
import { join } from 'node:path'
import { isFleetgateError, type FleetgateError } from '../../../src/contract/errors.js'
import {
  createIntermediateCa, createRootCa, issueLeaf, readPemCertificates, readPrivateKey, writeCertificates, writePrivateKey,
} from '../../../src/pki/index.js'
import { openssl, tempDir } from './helpers.js'

function caught (fn: () => unknown): FleetgateError {
  try {
    fn()
  } catch (err) {
    if (isFleetgateError(err)) return err
    throw err
  }
  throw new Error('expected a FleetgateError')
}

describe('pki/pem', () => {
  let t: ReturnType<typeof tempDir>
  before(() => { t = tempDir('pem') })
  after(() => { t.cleanup() })

  it('writes keys as PKCS#8 created 0600, even over an existing 0644 file', async () => {
    const root = await createRootCa()
    const path = join(t.dir, 'k.pem')
    writeFileSync(path, 'old', { mode: 0o644 })
    chmodSync(path, 0o644)
    writePrivateKey(path, root.key)
    expect(statSync(path).mode & 0o777).to.equal(0o600)
    const key = readPrivateKey(path)
    expect(key.asymmetricKeyType).to.equal('ec')
    expect(key.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1')
    expect(key.export({ type: 'pkcs8', format: 'pem' })).to.contain('-----BEGIN PRIVATE KEY-----')
  })

  it('reads SEC1 "EC PRIVATE KEY" files (openssl ecparam -genkey)', () => {
    const path = join(t.dir, 'sec1.pem')
    const r = openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', path])
    expect(r.status, r.stderr).to.equal(0)
    const key = readPrivateKey(path)
    expect(key.type).to.equal('private')
    expect(key.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1')
  })

  it('writes chain files leaf first and reads them back as DER', async () => {
    const root = await createRootCa()
    const issuing = await createIntermediateCa(root, 'issuing')
    const leaf = await issueLeaf(issuing, 'vehicle', '1M8GDM9AXKP042788')
    const path = join(t.dir, 'chain.pem')
    writeCertificates(path, leaf.chainPem)
    const ders = readPemCertificates(path)
    expect(ders).to.have.length(2)
    expect(ders[0]?.equals(leaf.cert)).to.equal(true)
    expect(ders[1]?.equals(issuing.cert)).to.equal(true)
    writeCertificates(path, [root.cert])
    expect(readPemCertificates(path)).to.have.length(1)
  })

  it('reports bad files in one line naming the file', () => {
    const missing = join(t.dir, 'missing.pem')
    let e = caught(() => readPemCertificates(missing))
    expect(e.code).to.equal('FG_ERR_FILE_UNREADABLE')
    expect(e.toLine()).to.equal(`FG_ERR_FILE_UNREADABLE: ${missing}: no such file`)

    const empty = join(t.dir, 'empty.pem')
    writeFileSync(empty, 'hello\n')
    e = caught(() => readPemCertificates(empty))
    expect(e.toLine()).to.equal(`FG_ERR_PEM_INVALID: ${empty}: no certificate found`)
    e = caught(() => readPrivateKey(empty))
    expect(e.toLine()).to.equal(`FG_ERR_PEM_INVALID: ${empty}: no private key found`)

    const garbage = join(t.dir, 'garbage.pem')
    writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    e = caught(() => readPemCertificates(garbage))
    expect(e.code).to.equal('FG_ERR_PEM_INVALID')
    expect(e.message).to.equal(`${garbage}: certificate 1 cannot be parsed`)

    e = caught(() => readPrivateKey(t.dir))
    expect(e.code).to.equal('FG_ERR_FILE_UNREADABLE')
    expect(e.message).to.contain(t.dir)
    expect(e.toLine()).to.not.contain('\n')
  })
})
