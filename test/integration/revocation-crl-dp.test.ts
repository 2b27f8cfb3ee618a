// CRL distribution points (--crl-dp; README "Revocation sources"): the CRL a
// configured CA certificate names (its parent's, covering that CA) is needed by
// every connect, like --crl-url; the CRL a client certificate names is fetched at
// its first connect and needed by the certificates that name it only. CRLs made by
// `openssl ca -gencrl`, served by a local node:http server; real TLS, real MQTT.
import { expect } from 'chai'
import { X509Certificate } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { createIntermediateCa, issueLeaf, loadCa, privateKeyToPem, randomVin, type CaMaterial } from '../../src/pki/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, tryConnect, closed, end } from '../harness/mqtt.js'
import { certOf, openssl } from './revocation-helpers.js'

/** openssl ca -gencrl over the serials (openssl's index.txt spelling) */
async function makeCrl (caCert: string, caKey: string, serials: readonly string[], window?: { lastUpdate: string; nextUpdate: string }): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-crldp-'))
  const lines = serials.map((hex) => `R\t301231235959Z\t240101000000Z,keyCompromise\t${hex}\tunknown\t/CN=x${hex}`)
  writeFileSync(join(dir, 'index.txt'), lines.join('\n') + (lines.length ? '\n' : ''))
  writeFileSync(join(dir, 'crlnumber'), '01\n')
  writeFileSync(join(dir, 'ca.cnf'), `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${join(dir, 'index.txt')}\ncrlnumber = ${join(dir, 'crlnumber')}\ndefault_md = sha256\ndefault_crl_days = 30\nunique_subject = no\n`)
  const times = window ? ['-crl_lastupdate', window.lastUpdate, '-crl_nextupdate', window.nextUpdate] : []
  await openssl('ca', '-gencrl', '-batch', '-config', join(dir, 'ca.cnf'), '-keyfile', caKey, '-cert', caCert, ...times, '-out', join(dir, 'crl.pem'))
  return readFileSync(join(dir, 'crl.pem'))
}

/** CRLs by path; an unknown path is a 404. Counts the fetches of each path. */
class CrlServer {
  readonly bodies = new Map<string, Buffer>()
  readonly fetches = new Map<string, number>()
  /** answer these paths only after so many ms */
  readonly delays = new Map<string, number>()
  base = ''
  readonly server: Server = createServer((req, res) => {
    const path = req.url ?? ''
    this.fetches.set(path, (this.fetches.get(path) ?? 0) + 1)
    const body = this.bodies.get(path)
    if (body === undefined) { res.writeHead(404).end(); return }
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(body), this.delays.get(path) ?? 0)
  })

  async start (): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  url (path: string): string { return this.base + path }
  async stop (): Promise<void> { this.server.closeAllConnections(); await new Promise<void>((resolve) => this.server.close(() => resolve())) }
}

interface Car { readonly vin: string; readonly dir: string; readonly serial: string }

describe('revocation source: CRL distribution points (--crl-dp)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let server: CrlServer
  let root: { cert: string; key: string }
  /** a re-issue of the dev Issuing CA (same name and key, so the shipped policy's pins hold) whose CDP names the root's CRL */
  let dpCa: CaMaterial
  let dpCaFiles: { cert: string; key: string }
  /** --ca: the root and the re-issued CA (a configured CA certificate, so its CDP is followed at start) */
  let caBundle: string
  const brokers: TestBroker[] = []
  const clients: MqttClient[] = []

  /** a car of the re-issued CA whose certificate names `crl` (paths on the server) as its distribution points */
  async function car (crl: readonly string[]): Promise<Car> {
    const vin = randomVin()
    const leaf = await issueLeaf(dpCa, 'vehicle', vin, { crl: crl.map((p) => server.url(p)) })
    const dir = join(pki.dir, 'tests', `crl-dp-${vin}`)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'cert.pem'), leaf.chainPem)
    writeFileSync(join(dir, 'key.pem'), leaf.keyPem!, { mode: 0o600 })
    return { vin, dir, serial: certOf(join(dir, 'cert.pem')).serialNumber.toUpperCase() }
  }

  before(async () => {
    pki = await testPki()
    server = new CrlServer()
    await server.start()
    root = { cert: join(pki.dir, 'root-ca.pem'), key: join(pki.dir, 'root-ca.key') }
    const issuing = await loadCa(pki.dir, 'issuing')
    dpCa = await createIntermediateCa(await loadCa(pki.dir, 'root'), 'issuing', { key: issuing.key, crl: [server.url('/root.crl')] })
    const dir = mkdtempSync(join(tmpdir(), 'fg-dpca-'))
    dpCaFiles = { cert: join(dir, 'dp-ca.pem'), key: join(dir, 'dp-ca.key') }
    writeFileSync(dpCaFiles.cert, dpCa.certPem)
    writeFileSync(dpCaFiles.key, privateKeyToPem(dpCa.key), { mode: 0o600 })
    caBundle = join(dir, 'ca-bundle.pem')
    writeFileSync(caBundle, readFileSync(root.cert, 'utf8') + dpCa.certPem)
  })
  beforeEach(async () => {
    server.bodies.clear()
    server.fetches.clear()
    server.delays.clear()
    server.bodies.set('/root.crl', await makeCrl(root.cert, root.key, []))
  })
  afterEach(async () => { await end(...clients.splice(0)); for (const b of brokers.splice(0)) await b.close() })
  after(async () => { await server?.stop() })

  async function broker (input: Record<string, unknown>): Promise<TestBroker> {
    const b = await startTestBroker(pki.dir, { ca: caBundle, revocationRecheck: '1h', ...input })
    brokers.push(b)
    return b
  }
  async function refused (b: TestBroker, c: { vin: string; dir: string }, reason: string): Promise<Record<string, unknown>> {
    const o = await tryConnect(b.port, credentials(pki.dir, c.dir), { clientId: c.vin })
    expect(o.ok, `${c.vin} refused`).to.equal(false)
    return await b.audit.waitFor('connect.deny', { reason, cert: { cn: c.vin } })
  }
  async function admitted (b: TestBroker, c: { vin: string; dir: string }): Promise<MqttClient> {
    const client = await connect(b.port, credentials(pki.dir, c.dir), { clientId: c.vin })
    clients.push(client)
    return client
  }

  it('follows the CA certificate\'s distribution point at start and a car\'s at its first connect: listed refused, clean admitted; a CA the root\'s CRL newly lists ends its cars\' sessions', async () => {
    const [listed, clean] = [await car(['/dp.crl']), await car(['/dp.crl'])]
    server.bodies.set('/dp.crl', await makeCrl(dpCaFiles.cert, dpCaFiles.key, [listed.serial]))
    const b = await broker({ crlDp: true, crlRefresh: '1s' })
    await b.audit.waitFor('crl.loaded', { url: server.url('/root.crl'), from: 'url' })
    expect(server.fetches.get('/dp.crl'), 'a car\'s distribution point is fetched when a car names it').to.equal(undefined)
    const live = await admitted(b, clean)
    await b.audit.waitFor('crl.loaded', { url: server.url('/dp.crl'), from: 'url' })
    await refused(b, listed, 'revoked')
    const devCar = { vin: pki.vins[0]!, dir: pki.vehicle(0) } // the dev Issuing CA's own certificate names no distribution point
    await admitted(b, devCar)
    expect(b.fleetgate.revocations.healthy()).to.equal(true)
    // the root revokes the re-issued CA: at the next refresh of its CRL every car under it is out
    server.bodies.set('/root.crl', await makeCrl(root.cert, root.key, [new X509Certificate(dpCa.certPem).serialNumber.toUpperCase()]))
    await closed(live, 8000)
    await b.audit.waitFor('revocation.kick', { reason: 'revoked' })
    await refused(b, clean, 'revoked')
  })

  it('without --crl-dp no distribution point is fetched (the listed car is admitted)', async () => {
    const listed = await car(['/dp.crl'])
    server.bodies.set('/dp.crl', await makeCrl(dpCaFiles.cert, dpCaFiles.key, [listed.serial]))
    const b = await broker({})
    await admitted(b, listed)
    expect([...server.fetches.keys()]).to.deep.equal([])
  })

  it('a car\'s unreachable distribution point fails closed for the cars naming it only; once served they are admitted', async () => {
    const [lost, other] = [await car(['/missing.crl']), await car(['/dp.crl'])]
    server.bodies.set('/dp.crl', await makeCrl(dpCaFiles.cert, dpCaFiles.key, []))
    const b = await broker({ crlDp: true, crlRefresh: '1s' })
    const deny = await refused(b, lost, 'revocation_unavailable')
    expect(deny.detail).to.contain(`CRL ${server.url('/missing.crl')} not loaded`)
    await b.audit.waitFor('crl.error', { url: server.url('/missing.crl') })
    await admitted(b, other)
    expect(b.fleetgate.revocations.healthy(), 'a car\'s distribution point does not make the node unready').to.equal(true)
    server.bodies.set('/missing.crl', await makeCrl(dpCaFiles.cert, dpCaFiles.key, []))
    await b.audit.waitFor('crl.loaded', { url: server.url('/missing.crl') }, 8000)
    await admitted(b, lost)
  })

  it('a slow distribution point: the connect waits at most --revocation-timeout (refused, the fetch goes on), the next one is admitted', async () => {
    const slowCar = await car(['/slow.crl'])
    server.bodies.set('/slow.crl', await makeCrl(dpCaFiles.cert, dpCaFiles.key, []))
    server.delays.set('/slow.crl', 3000)
    const b = await broker({ crlDp: true, revocationTimeout: '300ms' })
    expect((await refused(b, slowCar, 'revocation_unavailable')).detail).to.equal(`CRL ${server.url('/slow.crl')} not loaded yet (fetching)`)
    expect(b.audit.find('crl.loaded', { url: server.url('/slow.crl') }), 'refused before the CRL arrived').to.deep.equal([])
    await b.audit.waitFor('crl.loaded', { url: server.url('/slow.crl') }, 5000)
    await admitted(b, slowCar)
    expect(server.fetches.get('/slow.crl')).to.equal(1)
  })

  it('a distribution point whose CRL does not cover the car\'s issuing CA, or is stale, fails closed for that car', async () => {
    const [wrong, stale] = [await car(['/wrong.crl']), await car(['/stale.crl'])]
    server.bodies.set('/wrong.crl', await makeCrl(root.cert, root.key, [])) // verified (the root is configured), but the root's, not the car's CA's
    server.bodies.set('/stale.crl', await makeCrl(dpCaFiles.cert, dpCaFiles.key, [], { lastUpdate: '240101000000Z', nextUpdate: '240201000000Z' }))
    const b = await broker({ crlDp: true })
    expect((await refused(b, wrong, 'revocation_unavailable')).detail).to.match(/a distribution point of the certificate, is not signed by its issuing CA/)
    expect((await refused(b, stale, 'revocation_unavailable')).detail).to.match(/stale: nextUpdate 2024-02-01T00:00:00.000Z passed/)
    const lenient = await broker({ crlDp: true, crlStale: 'use' })
    await admitted(lenient, stale)
  })

  it('a car\'s distribution point is kept on disk: a restart with the server down answers from that copy', async () => {
    const [listed, clean] = [await car(['/dp.crl']), await car(['/dp.crl'])]
    server.bodies.set('/dp.crl', await makeCrl(dpCaFiles.cert, dpCaFiles.key, [listed.serial]))
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-data-'))
    const first = await broker({ crlDp: true, dataDir })
    await admitted(first, clean)
    await end(...clients.splice(0))
    await first.close(); brokers.splice(brokers.indexOf(first), 1)
    // the root's CRL too is on disk; now nothing is served
    server.bodies.clear()
    const again = await broker({ crlDp: true, dataDir })
    await refused(again, listed, 'revoked')
    await admitted(again, clean)
    expect(again.audit.find('crl.loaded', { url: server.url('/dp.crl'), from: 'disk' })).to.have.length(1)
  })
})
