// OCSP source (--ocsp-url, --ocsp-aia; README "Revocation sources") against a
// real `openssl ocsp -index index.txt -port <port>` responder started here, its
// index.txt written in the format `openssl ca` uses: good, revoked and unknown
// certificates, the responder named by the certificate's AIA, an unreachable
// responder (refuse and allow), a cached answer used until its nextUpdate and
// not after (stale), the responder's signature (the CA itself, a delegated
// OCSP-signing certificate, and one that may not sign), and a live session
// ended at the periodic re-check once the responder says revoked.
import { expect } from 'chai'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { randomVin } from '../../src/pki/index.js'
import { IdentityCache, type Identity } from '../../src/identity/index.js'
import { OcspRevocationSource, targetsOf } from '../../src/revocation/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { freePort } from '../harness/ports.js'
import { connect, credentials, tryConnect, closed, end } from '../harness/mqtt.js'
import { certOf, derOf } from './revocation-helpers.js'

const OCSP_SIGNING = '1.3.6.1.5.5.7.3.9'

interface Entry { readonly dir: string; readonly state: 'V' | 'R' }

/** index.txt as `openssl ca` writes it: status, expiry, revocation date[,reason], serial, file, subject */
function indexLine (e: Entry): string {
  const cert = certOf(join(e.dir, 'cert.pem'))
  const serial = cert.serialNumber.toUpperCase()
  const subject = '/' + cert.subject.split('\n').join('/')
  return `${e.state}\t301231235959Z\t${e.state === 'R' ? '240101000000Z,keyCompromise' : ''}\t${serial}\tunknown\t${subject}`
}

/** a real openssl OCSP responder on a free port; resolves once it accepts */
class Responder {
  child: ChildProcess | null = null
  port = 0
  constructor (readonly dir: string, readonly signer: { cert: string; key: string }, readonly ca: string, readonly nmin: number | null) {}

  get url (): string { return `http://127.0.0.1:${this.port}/` }

  async start (entries: readonly Entry[], port?: number): Promise<this> {
    writeFileSync(join(this.dir, 'index.txt'), entries.map(indexLine).join('\n') + '\n')
    this.port = port ?? await freePort()
    const args = ['ocsp', '-index', join(this.dir, 'index.txt'), '-port', String(this.port), '-rsigner', this.signer.cert, '-rkey', this.signer.key, '-CA', this.ca, ...(this.nmin !== null ? ['-nmin', String(this.nmin)] : [])]
    const child = spawn('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    await new Promise<void>((resolve, reject) => {
      let seen = ''
      const t = setTimeout(() => reject(new Error(`openssl ocsp did not start: ${seen}`)), 10_000)
      const on = (b: Buffer) => { seen += b.toString(); if (seen.includes('ACCEPT')) { clearTimeout(t); resolve() } }
      child.stdout!.on('data', on)
      child.stderr!.on('data', on)
      child.once('exit', (code) => { clearTimeout(t); reject(new Error(`openssl ocsp exited ${code}: ${seen}`)) })
    })
    child.removeAllListeners('exit')
    return this
  }

  async stop (): Promise<void> {
    const c = this.child
    this.child = null
    if (!c || c.exitCode !== null) return
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGTERM') })
  }
}

describe('revocation source: OCSP responder (openssl ocsp)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let issuingCa: string
  let delegated: { cert: string; key: string }
  let good: { vin: string; dir: string }
  let revoked: { vin: string; dir: string }
  let unknown: { vin: string; dir: string }
  let responder: Responder
  const brokers: TestBroker[] = []
  const clients: MqttClient[] = []
  const responders: Responder[] = []
  const identities = new IdentityCache()

  const car = async (name: string, ocsp?: string[]) => { const vin = randomVin(); return { vin, dir: await pki.extra(name, 'vehicle', vin, ocsp ? { ocsp } : {}) } }
  const identityOf = (dir: string): Identity => identities.fromChain([derOf(join(dir, 'cert.pem')), derOf(issuingCa), derOf(join(pki.dir, 'root-ca.pem'))]).identity
  async function newResponder (entries: readonly Entry[], signer = delegated, nmin: number | null = 5): Promise<Responder> {
    const r = await new Responder(mkdtempSync(join(tmpdir(), 'fg-ocsp-')), signer, issuingCa, nmin).start(entries)
    responders.push(r)
    return r
  }
  async function broker (input: Record<string, unknown>): Promise<TestBroker> {
    const b = await startTestBroker(pki.dir, { revocationRecheck: '1h', ...input })
    brokers.push(b)
    return b
  }
  async function refused (b: TestBroker, c: { vin: string; dir: string }, reason: string): Promise<string> {
    const o = await tryConnect(b.port, credentials(pki.dir, c.dir), { clientId: c.vin })
    expect(o.ok, `${c.vin} refused`).to.equal(false)
    return (await b.audit.waitFor('connect.deny', { reason, cert: { cn: c.vin } })).detail as string
  }
  async function admitted (b: TestBroker, c: { vin: string; dir: string }): Promise<MqttClient> {
    const client = await connect(b.port, credentials(pki.dir, c.dir), { clientId: c.vin })
    clients.push(client)
    return client
  }

  before(async () => {
    pki = await testPki()
    issuingCa = join(pki.dir, 'issuing-ca.pem')
    // a delegated responder: issued by the issuing CA for OCSP signing
    const dir = await pki.extra('ocsp-responder', 'server', 'ocsp-responder', { eku: [OCSP_SIGNING] })
    delegated = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }
    ;[good, revoked, unknown] = [await car('ocsp-good'), await car('ocsp-revoked'), await car('ocsp-unknown')]
    responder = await newResponder([{ dir: good.dir, state: 'V' }, { dir: revoked.dir, state: 'R' }])
  })
  afterEach(async () => { await end(...clients.splice(0)); for (const b of brokers.splice(0)) await b.close() })
  after(async () => { for (const r of responders) await r.stop() })

  it('--ocsp-url: good is admitted, revoked refused (revoked), unknown refused (revocation_unavailable)', async () => {
    const b = await broker({ ocspUrl: responder.url })
    await admitted(b, good)
    expect(await refused(b, revoked, 'revoked')).to.match(/^issuer [0-9a-f]{16} serial [0-9a-f]+$/)
    expect(await refused(b, unknown, 'revocation_unavailable')).to.contain('status unknown')
  })

  it('--ocsp-aia: the responder the certificate\'s AIA names is asked; a certificate without AIA is not', async () => {
    const [aiaGood, aiaRevoked] = [await car('ocsp-aia-good', [responder.url]), await car('ocsp-aia-revoked', [responder.url])]
    const noAia = await car('ocsp-aia-none')
    // the AIA names the shared responder's URL: restart it on that port with these certificates in its index
    await responder.stop()
    await responder.start([{ dir: good.dir, state: 'V' }, { dir: revoked.dir, state: 'R' }, { dir: aiaGood.dir, state: 'V' }, { dir: aiaRevoked.dir, state: 'R' }, { dir: noAia.dir, state: 'R' }], responder.port)
    expect(identityOf(aiaGood.dir).ocsp).to.deep.equal([responder.url])
    const b = await broker({ ocspAia: true })
    await admitted(b, aiaGood)
    await refused(b, aiaRevoked, 'revoked')
    await admitted(b, noAia) // revoked at the responder, but its certificate names none
  })

  it('an unreachable responder: refused (revocation_unavailable) by default, admitted and logged with --ocsp-unavailable allow', async () => {
    const down = `http://127.0.0.1:${await freePort()}/`
    const strict = await broker({ ocspUrl: down })
    expect(await refused(strict, good, 'revocation_unavailable')).to.contain(down)
    const lenient = await broker({ ocspUrl: down, ocspUnavailable: 'allow' })
    await admitted(lenient, good)
    const line = await lenient.audit.waitFor('ocsp.unavailable')
    expect((line.cert as { cn: string }).cn).to.equal(good.vin)
    // several responders: the next one answers when the first does not
    const both = await broker({ ocspUrl: [down, responder.url] })
    await admitted(both, good)
    await refused(both, revoked, 'revoked')
  })

  it('an answer is cached until its nextUpdate, and is stale after it: no answer then (responder gone)', async () => {
    let now = Date.now()
    const r = await newResponder([{ dir: good.dir, state: 'V' }], delegated, 5)
    const source = new OcspRevocationSource({ urls: [r.url], aia: false, unavailable: 'refuse', timeoutMs: 2000, cacheMs: 60_000, cas: () => [derOf(issuingCa)], now: () => now })
    const id = identityOf(good.dir)
    expect(await source.status({ targets: targetsOf(id), identity: id })).to.deep.equal({ revoked: null })
    await r.stop()
    now += 4 * 60_000 // before nextUpdate (5 min): the cached answer, no request
    expect(await source.status({ targets: targetsOf(id), identity: id })).to.deep.equal({ revoked: null })
    now += 2 * 60_000 // past nextUpdate: asked again, the responder is gone, the cached answer is stale
    let err: Error | undefined
    try { await source.status({ targets: targetsOf(id), identity: id }) } catch (e) { err = e as Error }
    expect(err?.message).to.match(/ECONNREFUSED|no answer/).and.to.match(/nextUpdate .* passed/)
    // a fresh answer whose nextUpdate already passed (our clock ahead of the responder's window) is stale too
    const again = await newResponder([{ dir: good.dir, state: 'V' }], delegated, 5)
    const late = new OcspRevocationSource({ urls: [again.url], aia: false, unavailable: 'refuse', timeoutMs: 2000, cacheMs: 60_000, cas: () => [derOf(issuingCa)], now: () => Date.now() + 10 * 60_000 })
    err = undefined
    try { await late.status({ targets: targetsOf(id), identity: id }) } catch (e) { err = e as Error }
    expect(err?.message).to.match(/stale answer: nextUpdate .* passed/)
    await source.close(); await late.close()
  })

  it('the response must be signed by the issuing CA or a responder it issued for OCSP signing', async () => {
    const id = identityOf(revoked.dir)
    const ask = async (r: Responder) => {
      const s = new OcspRevocationSource({ urls: [r.url], aia: false, unavailable: 'refuse', timeoutMs: 2000, cacheMs: 0, cas: () => [derOf(issuingCa)] })
      try { return await s.status({ targets: targetsOf(id), identity: id }) } finally { await s.close() }
    }
    const byCa = await newResponder([{ dir: revoked.dir, state: 'R' }], { cert: issuingCa, key: join(pki.dir, 'issuing-ca.key') })
    expect((await ask(byCa)).revoked).to.include({ serial: id.serial, reason: 'keyCompromise' })
    // the broker's own server certificate: issued by the same CA, but not for OCSP signing
    const notAllowed = await newResponder([{ dir: revoked.dir, state: 'R' }], { cert: join(pki.dir, 'broker', 'cert.pem'), key: join(pki.dir, 'broker', 'key.pem') })
    let err: Error | undefined
    try { await ask(notAllowed) } catch (e) { err = e as Error }
    expect(err?.message).to.contain('signature does not verify with the issuing CA or a responder certificate it issued for OCSP signing')
  })

  it('a live session ends at the periodic re-check once the responder says revoked (answers without nextUpdate, --revocation-cache 0)', async () => {
    const victim = await car('ocsp-live')
    const r = await newResponder([{ dir: victim.dir, state: 'V' }], delegated, null)
    const b = await broker({ ocspUrl: r.url, revocationRecheck: '1s', revocationCache: 0 })
    const client = await admitted(b, victim)
    await r.stop()
    await r.start([{ dir: victim.dir, state: 'R' }], r.port)
    await closed(client, 5000)
    const kick = await b.audit.waitFor('revocation.kick', { reason: 'revoked' })
    expect(kick.via).to.equal('recheck')
    expect((kick.conn as { clientId: string }).clientId).to.equal(victim.vin)
  })
})
