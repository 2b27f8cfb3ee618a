// `fleetgate revoke`, `crl import`, `revocations list` against a real Redis (the
// README "Redis schema", byte for byte) and a CRL made by the openssl CLI.
import { expect } from 'chai'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { randomVin } from '../../src/pki/index.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker } from '../harness/broker.js'
import { credentials, tryConnect } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'
import { redisCli, openssl, fingerprintOf, certOf } from './revocation-helpers.js'

const P = 'fleetgate:'

/** openssl ca -gencrl from an index.txt we write: arbitrary serials, with reasons. */
async function makeCrl (dir: string, caCert: string, caKey: string, serials: Array<[hex: string, reason?: string]>, window?: { lastUpdate: string; nextUpdate: string }): Promise<string> {
  const lines = serials.map(([hex, reason]) => `R\t301231235959Z\t240101000000Z${reason ? ',' + reason : ''}\t${hex.toUpperCase()}\tunknown\t/CN=x${hex}`)
  writeFileSync(join(dir, 'index.txt'), lines.join('\n') + (lines.length ? '\n' : ''))
  writeFileSync(join(dir, 'crlnumber'), '01\n')
  writeFileSync(join(dir, 'ca.cnf'), `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${join(dir, 'index.txt')}\ncrlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 30\nunique_subject = no\n`)
  const out = join(dir, 'crl.pem')
  const times = window ? ['-crl_lastupdate', window.lastUpdate, '-crl_nextupdate', window.nextUpdate] : []
  await openssl('ca', '-gencrl', '-batch', '-config', join(dir, 'ca.cnf'), '-keyfile', caKey, '-cert', caCert, ...times, '-out', out)
  return out
}

describe('revocation CLI (revoke, crl import, revocations list)', function () {
  this.timeout(60_000)
  let redis: TestRedis
  let pki: TestPki
  let db: Redis
  const env = (): NodeJS.ProcessEnv => ({ REDIS_URL: redis.url })

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    db = new Redis(redis.url)
  })
  beforeEach(async () => { await db.flushall() })
  after(async () => { db?.disconnect(); await redis?.stop() })

  it('revoke --cert writes revoked:cert and announces it on <prefix>revocations, and prints what it revoked', async () => {
    const vin = randomVin()
    const dir = await pki.extra('rc-cert', 'vehicle', vin)
    const sub = new Redis(redis.url)
    const heard: string[] = []
    await sub.subscribe(`${P}revocations`)
    sub.on('message', (_c: string, m: string) => heard.push(m))
    try {
      const r = await runCli(['revoke', '--cert', join(dir, 'cert.pem'), '--reason', 'keyCompromise'], { env: env() })
      expect(r.code, r.stderr).to.equal(0)
      const fp = fingerprintOf(join(dir, 'cert.pem'))
      expect(r.stdout).to.include(fp).and.include(`CN=${vin}`).and.include('keyCompromise')
      const v = JSON.parse((await db.hget(`${P}revoked:cert`, fp))!) as { reason: string; revokedAt: string }
      expect(v.reason).to.equal('keyCompromise')
      expect(new Date(v.revokedAt).toISOString()).to.equal(v.revokedAt)
      for (let i = 0; i < 50 && heard.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(heard.map((m) => JSON.parse(m) as object)).to.deep.include({ fingerprint: fp })
    } finally { sub.disconnect() }
  })

  it('revoke --issuer --serial stores the serial as lowercase hex without leading zeros', async () => {
    const r = await runCli(['revoke', '--issuer', join(pki.dir, 'issuing-ca.pem'), '--serial', '00:0A:BC', '--redis', redis.url])
    expect(r.code, r.stderr).to.equal(0)
    const issuer = fingerprintOf(join(pki.dir, 'issuing-ca.pem'))
    expect(await db.hkeys(`${P}revoked:serial:${issuer}`)).to.deep.equal(['abc'])
    const list = await runCli(['revocations', 'list', '--redis', redis.url])
    expect(list.stdout).to.include(`issuer ${issuer} serial abc reason unspecified`)
  })

  it('bad input: one clear line, exit 2', async () => {
    for (const args of [['revoke'], ['revoke', '--fingerprint', 'xyz'], ['revoke', '--cert', '/nonexistent.pem'], ['revoke', '--issuer', join(pki.dir, 'issuing-ca.pem'), '--serial', 'zz'],
      ['revoke', '--fingerprint', 'a'.repeat(64), '--reason', 'because'], ['crl', 'import', '/nonexistent.crl', '--issuer', join(pki.dir, 'issuing-ca.pem')]]) {
      const r = await runCli([...args, '--redis', redis.url])
      expect(r.code, args.join(' ')).to.equal(2)
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1)
      expect(r.stderr).to.match(/^FG_ERR_[A-Z_]+: /)
    }
    const down = await runCli(['revoke', '--fingerprint', 'a'.repeat(64), '--redis', 'redis://127.0.0.1:1'])
    expect(down.code).to.equal(2)
    expect(down.stderr).to.match(/^FG_ERR_REDIS_UNAVAILABLE: /)
  })

  it('crl import: an openssl CRL, verified, loaded pipelined with progress; the broker then refuses the listed certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-crl-'))
    const vin = randomVin()
    const victim = await pki.extra('rc-crl-victim', 'vehicle', vin)
    const victimSerial = certOf(join(victim, 'cert.pem')).serialNumber
    // 0ABC: openssl pads it; F1E2D3: DER adds a leading zero byte (high bit set)
    const extra = Array.from({ length: 20_000 }, (_, i) => [(0x100000 + i).toString(16)] as [string])
    const crl = await makeCrl(dir, join(pki.dir, 'issuing-ca.pem'), join(pki.dir, 'issuing-ca.key'),
      [[victimSerial, 'keyCompromise'], ['0ABC', 'superseded'], ['F1E2D3'], ...extra])
    const r = await runCli(['crl', 'import', crl, '--issuer', join(pki.dir, 'issuing-ca.pem')], { env: env() })
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/^imported 20003 revocations from .* \(20003 new or changed, by [^;]+; signature verified/)
    expect(r.stderr).to.match(/crl import: 20003\/20003/)
    const issuer = fingerprintOf(join(pki.dir, 'issuing-ca.pem'))
    const key = `${P}revoked:serial:${issuer}`
    expect(await db.hlen(key)).to.equal(20003)
    const reasonOf = async (f: string) => (JSON.parse((await db.hget(key, f)) ?? 'null') as { reason: string } | null)?.reason
    expect(await reasonOf(victimSerial.toLowerCase().replace(/^0+/, ''))).to.equal('keyCompromise')
    expect(await reasonOf('abc')).to.equal('superseded')
    expect(await reasonOf('f1e2d3')).to.equal('unspecified')
    const broker = await startTestBroker(pki.dir, { redis: redis.url })
    try {
      const o = await tryConnect(broker.port, credentials(pki.dir, victim), { clientId: vin })
      expect(o.ok).to.equal(false)
      await broker.audit.waitFor('connect.deny', { reason: 'revoked' })
    } finally { await broker.close() }
  })

  it('crl import refuses a CRL not signed by --issuer, and a tampered one, before loading anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-crl-'))
    const crl = await makeCrl(dir, join(pki.dir, 'manufacturing-ca.pem'), join(pki.dir, 'manufacturing-ca.key'), [['0ABC', 'keyCompromise']])
    const r = await runCli(['crl', 'import', crl, '--issuer', join(pki.dir, 'issuing-ca.pem'), '--redis', redis.url])
    expect(r.code).to.equal(2)
    expect(r.stderr).to.match(/^FG_ERR_CRL_SIGNATURE: /)
    expect(r.stderr.trim().split('\n')).to.have.length(1)
    // the right issuer, one signature byte flipped
    const good = await makeCrl(dir, join(pki.dir, 'issuing-ca.pem'), join(pki.dir, 'issuing-ca.key'), [['0ABC', 'keyCompromise']])
    const der = Buffer.from(readFileSync(good, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
    der[der.length - 5]! ^= 0x01
    writeFileSync(join(dir, 'bad.der'), der)
    const t = await runCli(['crl', 'import', join(dir, 'bad.der'), '--issuer', join(pki.dir, 'issuing-ca.pem'), '--redis', redis.url])
    expect(t.code).to.equal(2)
    expect(t.stderr).to.match(/^FG_ERR_CRL_SIGNATURE: /)
    expect(await db.keys(`${P}revoked:*`)).to.deep.equal([])
    const g = await runCli(['crl', 'import', join(pki.dir, 'issuing-ca.pem'), '--issuer', join(pki.dir, 'issuing-ca.pem'), '--redis', redis.url])
    expect(g.code).to.equal(2)
    expect(g.stderr).to.match(/^FG_ERR_CRL_INVALID: /)
  })

  for (const store of ['redis', 'file'] as const) {
    it(`crl import is in the operator log (${store} store): each entry with --by and a note naming the CRL; a repeat import logs nothing new`, async () => {
      const where = store === 'redis' ? ['--redis', redis.url] : ['--data-dir', mkdtempSync(join(tmpdir(), 'fg-store-'))]
      const crlDir = mkdtempSync(join(tmpdir(), 'fg-crl-'))
      const crl = await makeCrl(crlDir, join(pki.dir, 'issuing-ca.pem'), join(pki.dir, 'issuing-ca.key'), [['0ABC', 'keyCompromise'], ['0DEF']])
      const r = await runCli(['crl', 'import', crl, '--issuer', join(pki.dir, 'issuing-ca.pem'), '--by', 'pki-team', ...where])
      expect(r.code, r.stderr).to.equal(0)
      expect(r.stdout).to.match(/^imported 2 revocations from .* \(2 new or changed, by pki-team; signature verified/)
      const history = async (serial: string) => (await runCli(['cert', 'history', serial, '--json', ...where])).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
      const abc = await history('abc')
      expect(abc.map((e) => [e.action, e.by, e.reason, (e.target as { serial?: string }).serial])).to.deep.equal([['revoke', 'pki-team', 'keyCompromise', 'abc']])
      expect(abc[0]!.note).to.match(/^crl import crl\.pem \(thisUpdate \d{4}-/)
      expect((await history('def')).map((e) => e.by)).to.deep.equal(['pki-team'])
      // the same CRL again, by someone else: nothing new, nothing logged
      const again = await runCli(['crl', 'import', crl, '--issuer', join(pki.dir, 'issuing-ca.pem'), '--by', 'someone-else', '--note', 'daily refresh', ...where])
      expect(again.code, again.stderr).to.equal(0)
      expect(again.stdout).to.include('(0 new or changed, by someone-else;')
      expect(await history('abc')).to.have.length(1)
      // a bad --by: one line, exit 2, nothing read
      const bad = await runCli(['crl', 'import', crl, '--issuer', join(pki.dir, 'issuing-ca.pem'), '--by', ' ', ...where])
      expect(bad.code).to.equal(2)
      expect(bad.stderr.trim().split('\n')).to.have.length(1)
      expect(bad.stderr).to.match(/^FG_ERR_CONFIG_INVALID: --by/)
    })
  }

  it('revoke and list work the same with the file store', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-store-'))
    const crl = await makeCrl(mkdtempSync(join(tmpdir(), 'fg-crl-')), join(pki.dir, 'issuing-ca.pem'), join(pki.dir, 'issuing-ca.key'), [['0ABC', 'keyCompromise']])
    expect((await runCli(['crl', 'import', crl, '--issuer', join(pki.dir, 'issuing-ca.pem'), '--data-dir', dataDir])).code).to.equal(0)
    expect((await runCli(['revoke', '--fingerprint', 'AB'.repeat(32), '--data-dir', dataDir])).code).to.equal(0)
    const list = await runCli(['revocations', 'list', '--data-dir', dataDir, '--json'])
    const rows = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>)
    expect(rows.map((r) => r.serial ?? r.fingerprint)).to.have.members(['abc', 'ab'.repeat(32)])
    expect(await redisCli(redis.port, 'DBSIZE')).to.equal('0')
  })

  it('crl import of a stale CRL (nextUpdate in the past): imported all the same, with one warning line naming the file and nextUpdate', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-store-'))
    const issuer = join(pki.dir, 'issuing-ca.pem')
    const stale = await makeCrl(mkdtempSync(join(tmpdir(), 'fg-crl-')), issuer, join(pki.dir, 'issuing-ca.key'), [['0DEF', 'keyCompromise']],
      { lastUpdate: '20240101000000Z', nextUpdate: '20240201000000Z' })
    const r = await runCli(['crl', 'import', stale, '--issuer', issuer, '--data-dir', dataDir])
    expect(r.code, r.stderr).to.equal(0)
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'))
    expect(warnings, r.stderr).to.deep.equal([`warning: ${stale}: stale CRL, nextUpdate 2024-02-01T00:00:00.000Z is in the past (a newer CRL may list more revocations): imported anyway`])
    expect(r.stdout).to.match(/^imported 1 revocations from .* nextUpdate 2024-02-01T00:00:00\.000Z\)/)
    const list = await runCli(['revocations', 'list', '--data-dir', dataDir, '--json'])
    expect(list.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Record<string, string>).serial)).to.deep.equal(['def'])
    // a current CRL: no warning
    const current = await makeCrl(mkdtempSync(join(tmpdir(), 'fg-crl-')), issuer, join(pki.dir, 'issuing-ca.key'), [['0ABC', 'keyCompromise']])
    const c = await runCli(['crl', 'import', current, '--issuer', issuer, '--data-dir', dataDir])
    expect(c.code, c.stderr).to.equal(0)
    expect(c.stderr).to.not.match(/warning/)
  })
})
