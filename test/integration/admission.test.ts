// Admission control at TCP accept (--max-connect-rate, --max-connections): a
// connection over the rate or the cap is closed before the broker reads or
// writes one TLS byte, counted in fleetgate_decisions_total{evt="accept.deny"}
// and audited at a sampled rate. Real TLS sockets.
import { expect } from 'chai'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { connect as netConnect, type Socket } from 'node:net'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, connect, end, type Credentials } from '../harness/mqtt.js'
import { proxiedTls } from '../harness/proxied.js'
import { encodeV2 } from '../../src/proxy/header.js'

interface Attempt { readonly ok: boolean; readonly bytesFromBroker: number; readonly socket: TLSSocket }

/** One TLS connection with a valid client certificate: did the handshake finish, and what did the broker send? */
function attempt (port: number, creds: Credentials, session?: Buffer): Promise<Attempt> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key, session })
    let settled = false
    const finish = (ok: boolean) => {
      if (settled) return
      settled = true
      // bytes the broker wrote on this TCP connection (its ServerHello, if any)
      resolve({ ok, bytesFromBroker: s.bytesRead, socket: s })
    }
    s.once('secureConnect', () => finish(true))
    s.once('error', () => finish(false))
    s.once('close', () => finish(false))
  })
}

describe('admission control at accept (--max-connect-rate, --max-connections)', function () {
  this.timeout(30_000)
  let pki: TestPki
  let creds: Credentials
  const sockets: TLSSocket[] = []
  before(async () => { pki = await testPki(); creds = credentials(pki.dir, pki.vehicle(0)) })
  afterEach(() => { for (const s of sockets.splice(0)) s.destroy() })

  describe('--max-connect-rate 5', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir, { maxConnectRate: 5 }) })
    after(async () => { await broker?.close() })

    it('admits a burst of one second of the rate, closes the rest before any TLS byte, and admits again a second later', async () => {
      broker.audit.clear()
      const burst = await Promise.all(Array.from({ length: 20 }, () => attempt(broker.port, creds)))
      sockets.push(...burst.map((a) => a.socket))
      const admitted = burst.filter((a) => a.ok)
      const refused = burst.filter((a) => !a.ok)
      expect(admitted).to.have.length(5)
      expect(refused).to.have.length(15)
      // the broker never answered their ClientHello: no TLS work was done for them
      for (const r of refused) expect(r.bytesFromBroker).to.equal(0)
      await new Promise((resolve) => setTimeout(resolve, 1300))
      const lines = broker.audit.find('accept.deny', { reason: 'connect_rate_exceeded' })
      expect(lines.length).to.be.within(1, 2)
      expect(lines.reduce((n, l) => n + (typeof l.suppressed === 'number' ? l.suppressed : 1), 0)).to.equal(15)
      expect(lines[0]!.detail).to.match(/--max-connect-rate 5\/s/)
      const text = await broker.fleetgate.metrics.registry.metrics()
      expect(text).to.match(/fleetgate_decisions_total\{evt="accept.deny",reason="connect_rate_exceeded"\} 15/)
      // tokens came back
      const later = await attempt(broker.port, creds)
      sockets.push(later.socket)
      expect(later.ok).to.equal(true)
    })

    it('lets an admitted car through to CONNACK', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const car = await connect(broker.port, creds, { clientId: pki.vins[0] })
      await end(car)
    })
  })

  describe('--max-connections 3', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir, { maxConnections: 3 }) })
    after(async () => { await broker?.close() })

    it('closes the connection past the cap at accept, counts it, and admits again once one has closed', async () => {
      broker.audit.clear()
      const held = []
      for (let i = 0; i < 3; i++) held.push(await attempt(broker.port, creds))
      sockets.push(...held.map((a) => a.socket))
      expect(held.every((a) => a.ok)).to.equal(true)
      const over = await attempt(broker.port, creds)
      sockets.push(over.socket)
      expect(over.ok).to.equal(false)
      expect(over.bytesFromBroker).to.equal(0)
      const line = await broker.audit.waitFor('accept.deny', { reason: 'max_connections_reached' })
      expect(line.max).to.equal(3)
      held[0]!.socket.destroy()
      await new Promise((resolve) => setTimeout(resolve, 200))
      const again = await attempt(broker.port, creds)
      sockets.push(again.socket)
      expect(again.ok).to.equal(true)
      expect(await broker.fleetgate.metrics.registry.metrics()).to.match(/fleetgate_decisions_total\{evt="accept.deny",reason="max_connections_reached"\} 1/)
    })
  })

  describe('--max-handshakes 3', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir, { maxHandshakes: 3, handshakeTimeout: '3s' }) })
    after(async () => { await broker?.close() })

    it('counts connections in their TLS handshake, refuses one more at accept, and lets one in again when a handshake ends', async () => {
      // finished handshakes do not count: one after the other, all get in
      for (let i = 0; i < 5; i++) {
        const a = await attempt(broker.port, creds)
        sockets.push(a.socket)
        expect(a.ok, `sequential connect ${i}`).to.equal(true)
      }
      // three connections that never send their ClientHello hold three handshakes open
      const silent = await Promise.all([0, 1, 2].map(() => new Promise<Socket>((resolve) => { const s = netConnect({ host: '127.0.0.1', port: broker.port }, () => resolve(s)); s.on('error', () => {}) })))
      await new Promise((resolve) => setTimeout(resolve, 200))
      const over = await attempt(broker.port, creds)
      sockets.push(over.socket)
      expect(over.ok).to.equal(false)
      expect(over.bytesFromBroker).to.equal(0)
      const line = await broker.audit.waitFor('accept.deny', { reason: 'too_many_handshakes' })
      expect(line.detail).to.match(/3 TLS handshakes in progress/)
      // one gives up: its handshake ends (tlsClientError), a car gets in
      silent[0]!.destroy()
      await new Promise((resolve) => setTimeout(resolve, 200))
      const again = await attempt(broker.port, creds)
      sockets.push(again.socket)
      expect(again.ok).to.equal(true)
      for (const s of silent) s.destroy()
    })
  })

  describe('with --proxy-protocol', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir, { proxyProtocol: true, proxyFrom: '127.0.0.1', maxConnectRate: 2 }) })
    after(async () => { await broker?.close() })

    it('checks the rate before reading any header byte, and TLS session tickets still resume behind the header', async () => {
      const header = encodeV2({ family: 'IPv4', address: '192.0.2.44', port: 1000, destination: '127.0.0.1', destinationPort: 8883 })
      const first = proxiedTls(broker.port, creds, header).tls
      sockets.push(first)
      const session = await new Promise<Buffer>((resolve, reject) => {
        first.once('session', resolve)
        first.once('error', reject)
        // TLS 1.3 sends its ticket after the handshake: read so it arrives
        first.resume()
      })
      first.destroy()
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const second = proxiedTls(broker.port, creds, header, { session }).tls
      sockets.push(second)
      const resumed = await new Promise<boolean>((resolve) => { second.once('secureConnect', () => resolve(second.isSessionReused())); second.once('error', () => resolve(false)) })
      expect(resumed, 'the ticket from behind the header resumed').to.equal(true)
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const burst = await Promise.all(Array.from({ length: 5 }, () => new Promise<boolean>((resolve) => {
        const t = proxiedTls(broker.port, creds, header).tls
        sockets.push(t)
        t.once('secureConnect', () => resolve(true)); t.once('error', () => resolve(false)); t.once('close', () => resolve(false))
      })))
      expect(burst.filter((x) => x)).to.have.length(2)
      expect(broker.audit.find('accept.deny', { reason: 'connect_rate_exceeded' })).to.have.length.greaterThan(0)
      expect(broker.audit.find('accept.deny', { reason: 'proxy_header_missing' })).to.have.length(0)
    })
  })
})
