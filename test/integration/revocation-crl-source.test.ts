// CRL source (--crl-url; README "Revocation sources"): a CRL made by `openssl ca
// -gencrl`, served by a local node:http server, verified against the issuing CA
// (--cert's chain), kept on disk for restarts, refreshed (a newly listed
// certificate's live session ends, its Will dropped), composed with the store
// (embedded and Redis); an unreachable URL and a stale CRL fail closed by
// default. Real TLS, real MQTT clients.
import { expect } from 'chai'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { randomVin } from '../../src/pki/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { freePort } from '../harness/ports.js'
import { connect, credentials, tryConnect, collect, closed, end } from '../harness/mqtt.js'
import { certOf, fingerprintOf, openssl } from './revocation-helpers.js'

/** openssl ca -gencrl from an index.txt we write; PEM or DER */
async function makeCrl (caCert: string, caKey: string, serials: readonly string[], opts: { der?: boolean; window?: { lastUpdate: string; nextUpdate: string } } = {}): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-crlsrc-'))
  const lines = serials.map((hex) => `R\t301231235959Z\t240101000000Z,keyCompromise\t${hex}\tunknown\t/CN=x${hex}`)
  writeFileSync(join(dir, 'index.txt'), lines.join('\n') + (lines.length ? '\n' : ''))
  writeFileSync(join(dir, 'crlnumber'), '01\n')
  writeFileSync(join(dir, 'ca.cnf'), `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${join(dir, 'index.txt')}\ncrlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 30\nunique_subject = no\n`)
  const times = opts.window ? ['-crl_lastupdate', opts.window.lastUpdate, '-crl_nextupdate', opts.window.nextUpdate] : []
  await openssl('ca', '-gencrl', '-batch', '-config', join(dir, 'ca.cnf'), '-keyfile', caKey, '-cert', caCert, ...times, '-out', join(dir, 'crl.pem'))
  if (!opts.der) return readFileSync(join(dir, 'crl.pem'))
  await openssl('crl', '-in', join(dir, 'crl.pem'), '-outform', 'DER', '-out', join(dir, 'crl.der'))
  return readFileSync(join(dir, 'crl.der'))
}

/** the CRL server: serves `body` (or an error status) and counts the fetches */
class CrlServer {
  body: Buffer = Buffer.alloc(0)
  status = 200
  fetches = 0
  readonly server: Server = createServer((_req, res) => {
    this.fetches++
    if (this.status !== 200) { res.writeHead(this.status).end(); return }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(this.body)
  })

  async start (): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/issuing.crl`
  }

  async stop (): Promise<void> { this.server.closeAllConnections(); await new Promise<void>((resolve) => this.server.close(() => resolve())) }
}

/** the serial as openssl's index.txt spells it: upper case, whole bytes */
const serialOf = (dir: string): string => certOf(join(dir, 'cert.pem')).serialNumber.toUpperCase()

describe('revocation source: CRL from a URL (--crl-url)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let server: CrlServer
  let url: string
  const brokers: TestBroker[] = []
  const clients: MqttClient[] = []
  let issuing: { cert: string; key: string }
  const car = async (name: string) => { const vin = randomVin(); return { vin, dir: await pki.extra(name, 'vehicle', vin) } }

  before(async () => {
    pki = await testPki()
    issuing = { cert: join(pki.dir, 'issuing-ca.pem'), key: join(pki.dir, 'issuing-ca.key') }
    server = new CrlServer()
    url = await server.start()
  })
  afterEach(async () => { await end(...clients.splice(0)); for (const b of brokers.splice(0)) await b.close() })
  after(async () => { await server?.stop() })

  async function broker (input: Record<string, unknown>): Promise<TestBroker> {
    const b = await startTestBroker(pki.dir, { revocationRecheck: '1h', ...input })
    brokers.push(b)
    return b
  }
  async function refused (b: TestBroker, c: { vin: string; dir: string }, reason: string): Promise<void> {
    const o = await tryConnect(b.port, credentials(pki.dir, c.dir), { clientId: c.vin })
    expect(o.ok, `${c.vin} refused`).to.equal(false)
    if (!o.ok) expect(o.returnCode).to.equal(5)
    await b.audit.waitFor('connect.deny', { reason, cert: { cn: c.vin } })
  }
  async function admitted (b: TestBroker, c: { vin: string; dir: string }, opts = {}): Promise<MqttClient> {
    const client = await connect(b.port, credentials(pki.dir, c.dir), { clientId: c.vin, ...opts })
    clients.push(client)
    return client
  }

  it('refuses a certificate the CRL lists (revoked), admits one it does not; the CRL is kept on disk; a restart with the URL down, or serving a CRL no configured CA signed, uses that copy', async () => {
    const [listed, clean] = [await car('crl-listed'), await car('crl-clean')]
    server.body = await makeCrl(issuing.cert, issuing.key, [serialOf(listed.dir)], { der: true })
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-data-'))
    const b = await broker({ crlUrl: url, dataDir })
    await b.audit.waitFor('crl.loaded', { from: 'url' })
    await refused(b, listed, 'revoked')
    const deny = b.audit.find('connect.deny', { reason: 'revoked', cert: { cn: listed.vin } })[0]!
    expect(deny.detail).to.contain(`issuer ${fingerprintOf(issuing.cert).slice(0, 16)}`)
    await admitted(b, clean)
    const kept = readdirSync(join(dataDir, 'crl'))
    expect(kept).to.have.length(1)
    expect(readFileSync(join(dataDir, 'crl', kept[0]!)).equals(server.body)).to.equal(true)
    await end(...clients.splice(0))
    await b.close(); brokers.splice(brokers.indexOf(b), 1)

    // restart with the CRL server answering 503: the copy on disk still holds
    server.status = 503
    try {
      const again = await broker({ crlUrl: url, dataDir })
      expect(again.audit.find('crl.loaded', { from: 'disk' })).to.have.length(1)
      await again.audit.waitFor('crl.error')
      await refused(again, listed, 'revoked')
      await admitted(again, clean)
    } finally { server.status = 200 }
    await end(...clients.splice(0))
    for (const b2 of brokers.splice(0)) await b2.close()

    // the URL now serves a CRL no configured CA signed: with a verified copy on disk this is no configuration
    // mistake, so the broker starts on that copy and says what is wrong with the URL's
    const good = server.body
    server.body = await makeCrl(join(pki.dir, 'manufacturing-ca.pem'), join(pki.dir, 'manufacturing-ca.key'), [serialOf(clean.dir)])
    try {
      const third = await broker({ crlUrl: url, dataDir })
      const error = await third.audit.waitFor('crl.error')
      expect(error.err).to.match(/not signed by a CA of --ca or of --cert's chain/)
      await refused(third, listed, 'revoked')
      await admitted(third, clean)
      expect(readFileSync(join(dataDir, 'crl', kept[0]!)).equals(good), 'the copy on disk is not replaced').to.equal(true)
    } finally { server.body = good }
  })

  it('ends the live session of a certificate a refreshed CRL newly lists (revocation.kick), its Will dropped', async () => {
    const victim = await car('crl-live')
    server.body = await makeCrl(issuing.cert, issuing.key, [], { der: false }) // PEM, empty
    const b = await broker({ crlUrl: url, crlRefresh: '1s' })
    const backend = await connect(b.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-crl-live' })
    clients.push(backend)
    await backend.subscribeAsync(`vehicles/${victim.vin}/status`, { qos: 1 })
    const client = await admitted(b, victim, { will: { topic: `vehicles/${victim.vin}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } })
    const gotWill = collect(backend, 6000)
    server.body = await makeCrl(issuing.cert, issuing.key, [serialOf(victim.dir)])
    await closed(client, 5000)
    const kick = await b.audit.waitFor('revocation.kick', { reason: 'revoked' })
    expect((kick.conn as { clientId: string }).clientId).to.equal(victim.vin)
    expect(kick.via).to.equal('event')
    await b.audit.waitFor('will.drop', { reason: 'revoked' })
    expect((await gotWill).map((m) => m.payload.toString())).to.deep.equal([])
    await refused(b, victim, 'revoked')
  })

  it('an unreachable URL with no copy on disk: every connect refused (revocation_unavailable), admitted once the CRL is served', async () => {
    const c = await car('crl-unreachable')
    const port = await freePort()
    const downUrl = `http://127.0.0.1:${port}/issuing.crl`
    const b = await broker({ crlUrl: downUrl, crlRefresh: '1s' })
    await b.audit.waitFor('crl.error')
    await refused(b, c, 'revocation_unavailable')
    const deny = b.audit.find('connect.deny', { reason: 'revocation_unavailable' })[0]!
    expect(deny.detail).to.contain(`CRL ${downUrl} not loaded`)
    // the CRL server comes up on that port: the next retry (at most --crl-refresh away) loads it
    const late = new CrlServer()
    late.body = await makeCrl(issuing.cert, issuing.key, [])
    await new Promise<void>((resolve) => late.server.listen(port, '127.0.0.1', resolve))
    try {
      await b.audit.waitFor('crl.loaded', { from: 'url' }, 5000)
      await admitted(b, c)
    } finally { await end(...clients.splice(0)); await late.stop() }
  })

  it('a stale CRL (nextUpdate passed): --crl-stale refuse fails closed for its CA\'s certificates, use keeps answering from it; its entries hold either way', async () => {
    const [listed, clean] = [await car('crl-stale-listed'), await car('crl-stale-clean')]
    server.body = await makeCrl(issuing.cert, issuing.key, [serialOf(listed.dir)], { window: { lastUpdate: '240101000000Z', nextUpdate: '240201000000Z' } })
    const strict = await broker({ crlUrl: url })
    await refused(strict, clean, 'revocation_unavailable')
    expect(strict.audit.find('connect.deny', { reason: 'revocation_unavailable' })[0]!.detail).to.match(/stale: nextUpdate 2024-02-01T00:00:00.000Z passed/)
    await refused(strict, listed, 'revoked')
    const lenient = await broker({ crlUrl: url, crlStale: 'use' })
    await admitted(lenient, clean)
    await refused(lenient, listed, 'revoked')
  })

  it('a CRL no configured CA signed stops the start (FG_ERR_CRL_SIGNATURE, one line)', async () => {
    server.body = await makeCrl(join(pki.dir, 'manufacturing-ca.pem'), join(pki.dir, 'manufacturing-ca.key'), ['0ABC'])
    let err: (Error & { code?: string }) | undefined
    try { await broker({ crlUrl: url }) } catch (e) { err = e as Error & { code?: string } }
    expect(err?.code).to.equal('FG_ERR_CRL_SIGNATURE')
    expect(err?.message).to.match(/not signed by a CA of --ca or of --cert's chain/)
  })

  describe('with the Redis store', () => {
    let redis: TestRedis
    before(async () => { redis = await startRedis() })
    after(async () => { await redis?.stop() })

    it('composes: revoked in the Redis store or listed by the CRL is refused; neither is admitted', async () => {
      const [inStore, inCrl, clean] = [await car('crl-redis-store'), await car('crl-redis-crl'), await car('crl-redis-clean')]
      server.body = await makeCrl(issuing.cert, issuing.key, [serialOf(inCrl.dir)], { der: true })
      const b = await broker({ redis: redis.url, crlUrl: url })
      expect(b.fleetgate.revocations.kind).to.equal('redis+crl')
      await b.fleetgate.revocations.revoke([{ fingerprint: fingerprintOf(join(inStore.dir, 'cert.pem')) }], { reason: 'keyCompromise', revokedAt: new Date().toISOString() })
      await refused(b, inStore, 'revoked')
      await refused(b, inCrl, 'revoked')
      await admitted(b, clean)
    })
  })
})
