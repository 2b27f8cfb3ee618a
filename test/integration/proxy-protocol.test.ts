// --proxy-protocol: behind a load balancer, the client's address comes from the
// PROXY header (v1 or v2) and is the one the per-IP limit, the audit lines and
// the metrics use; a connection without a valid header, or from a source not in
// --proxy-from, is closed before TLS. Real TLS sockets, real MQTT.js clients.
import { expect } from 'chai'
import { connect as netConnect, type Socket } from 'node:net'
import { request } from 'node:http'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { freePort } from '../harness/ports.js'
import { credentials, tryConnect, end } from '../harness/mqtt.js'
import { tryConnectProxied } from '../harness/proxied.js'
import { encodeV1, encodeV2 } from '../../src/proxy/header.js'
import type { MqttClient } from 'mqtt'

const v1 = (address: string, port = 40001) => encodeV1('IPv4', address, port, '127.0.0.1', 8883)
const v2 = (address: string, port = 40002) => encodeV2({ family: 'IPv4', address, port, destination: '127.0.0.1', destinationPort: 8883 })

/** Raw bytes on a TCP connection; resolves with how long the broker took to close it. */
async function sendRaw (port: number, chunks: Buffer[], localAddress = '127.0.0.1', timeoutMs = 8000): Promise<{ ms: number; received: number }> {
  return await new Promise((resolve, reject) => {
    const t0 = Date.now()
    let received = 0
    const s: Socket = netConnect({ host: '127.0.0.1', port, localAddress }, () => { for (const c of chunks) s.write(c) })
    const t = setTimeout(() => { s.destroy(); reject(new Error('connection still open')) }, timeoutMs)
    s.on('data', (d: Buffer) => { received += d.length })
    s.on('error', () => {})
    s.on('close', () => { clearTimeout(t); resolve({ ms: Date.now() - t0, received }) })
  })
}

function metricsText (port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d })
      res.on('end', () => resolve(body))
    }).on('error', reject).end()
  })
}

describe('PROXY protocol (--proxy-protocol, --proxy-from)', function () {
  this.timeout(30_000)
  let pki: TestPki
  const open: MqttClient[] = []
  before(async () => { pki = await testPki() })
  afterEach(async () => { await end(...open.splice(0)) })

  describe('enabled, from 127.0.0.1 and 127.0.0.3', () => {
    let broker: TestBroker
    let metricsPort: number
    before(async () => {
      metricsPort = await freePort()
      broker = await startTestBroker(pki.dir, { proxyProtocol: true, proxyFrom: '127.0.0.1, 127.0.0.3/32', maxConnectionsPerIp: 2, handshakeTimeout: '700ms', metricsPort })
    })
    after(async () => { await broker?.close() })
    beforeEach(() => broker.audit.clear())

    for (const [version, header] of [['v1', v1('192.0.2.7')], ['v2', v2('198.51.100.20')]] as const) {
      for (const separate of [false, true]) {
        it(`admits a car behind a ${version} header (${separate ? 'header alone first' : 'header and ClientHello in one write'}) and audits the header's address`, async () => {
          const o = await tryConnectProxied(broker.port, credentials(pki.dir, pki.vehicle(0)), header, { clientId: pki.vins[0] }, { separate })
          expect(o.ok, o.ok ? '' : o.error).to.equal(true)
          if (o.ok) open.push(o.client)
          const line = await broker.audit.waitFor('connect.allow', { conn: { clientId: pki.vins[0] } })
          expect(line.remote).to.equal(version === 'v1' ? '192.0.2.7' : '198.51.100.20')
        })
      }
    }

    it('admits the balancer\'s own connection (v2 LOCAL, a health check) under the balancer\'s address', async () => {
      const o = await tryConnectProxied(broker.port, credentials(pki.dir, pki.vehicle(1)), encodeV2(null), { clientId: pki.vins[1] }, { localAddress: '127.0.0.3' })
      expect(o.ok, o.ok ? '' : o.error).to.equal(true)
      if (o.ok) open.push(o.client)
      expect((await broker.audit.waitFor('connect.allow', { conn: { clientId: pki.vins[1] } })).remote).to.equal('127.0.0.3')
    })

    it('counts --max-connections-per-ip against the header\'s address, not the balancer\'s', async () => {
      // three cars from one address behind the balancer: the third is over 2
      const same = [0, 1, 2].map((i) => tryConnectProxied(broker.port, credentials(pki.dir, pki.vehicle(i)), v2('203.0.113.5', 41000 + i), { clientId: pki.vins[i] }))
      const outcomes = []
      for (const p of same) outcomes.push(await p)
      for (const o of outcomes) if (o.ok) open.push(o.client)
      expect(outcomes.filter((o) => o.ok)).to.have.length(2)
      const refused = outcomes.find((o) => !o.ok)
      expect(refused && !refused.ok && refused.returnCode).to.equal(5)
      const deny = await broker.audit.waitFor('connect.deny', { reason: 'too_many_connections' })
      expect((deny.client as { remote: string }).remote).to.equal('203.0.113.5')
      // a fourth car from another address, through the same balancer, gets in
      const other = await tryConnectProxied(broker.port, credentials(pki.dir, pki.vehicle(3)), v1('203.0.113.6'), { clientId: pki.vins[3] })
      expect(other.ok, other.ok ? '' : other.error).to.equal(true)
      if (other.ok) open.push(other.client)
    })

    it('closes a TLS client that sends no header, before TLS (proxy_header_missing), counted in the metrics', async () => {
      const o = await tryConnect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: pki.vins[0] })
      expect(o.ok).to.equal(false)
      const line = await broker.audit.waitFor('accept.deny', { reason: 'proxy_header_missing' })
      expect(line.remote).to.equal('127.0.0.1')
      expect(line.detail).to.match(/0x16/)
      expect(broker.audit.find('tls.deny')).to.have.length(0)
      expect(await metricsText(metricsPort)).to.match(/fleetgate_decisions_total\{evt="accept.deny",reason="proxy_header_missing"\} [1-9]/)
    })

    const garbled: Array<[string, Buffer[]]> = [
      ['a v1 header with a host name for an address', [Buffer.from('PROXY TCP4 evil.example 127.0.0.1 1 2\r\n')]],
      ['a v1 header longer than 107 bytes', [Buffer.from('PROXY TCP4 ' + '1'.repeat(200))]],
      ['a v2 header announcing 65,535 bytes', [Buffer.concat([encodeV2(null).subarray(0, 14), Buffer.from([0xff, 0xff])])]],
      ['a v2 header with a broken signature', [Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b, 0x21, 0x11, 0, 12])]],
      ['a v2 PROXY header over UDP', [Buffer.concat([encodeV2(null).subarray(0, 12), Buffer.from([0x21, 0x12, 0, 12]), Buffer.alloc(12)])]],
    ]
    for (const [what, chunks] of garbled) {
      it(`closes ${what} at once (proxy_header_invalid), before TLS`, async () => {
        const r = await sendRaw(broker.port, chunks)
        expect(r.ms).to.be.lessThan(500)
        expect(r.received).to.equal(0)
        await broker.audit.waitFor('accept.deny', { reason: 'proxy_header_invalid' })
      })
    }

    it('closes a header that stops half way at --handshake-timeout (proxy_header_timeout); a partial header is never taken', async () => {
      const r = await sendRaw(broker.port, [Buffer.from('PROXY TCP4 192.0.2.1 ')])
      expect(r.ms).to.be.within(600, 3000)
      const line = await broker.audit.waitFor('accept.deny', { reason: 'proxy_header_timeout' })
      expect(line.detail).to.match(/21 bytes/)
      expect(broker.audit.find('connect.allow')).to.have.length(0)
    })

    it('a header trickled a byte at a time is closed at --handshake-timeout from the accept, not from its last byte (security review 4)', async () => {
      const t0 = Date.now()
      const closedAfter = await new Promise<number>((resolve) => {
        const s: Socket = netConnect({ host: '127.0.0.1', port: broker.port })
        const bytes = Buffer.from('PROXY TCP4 192.0.2.1 127.0.0.1 40001 8883')
        let i = 0
        const tick = setInterval(() => { if (i < bytes.length && !s.destroyed) s.write(bytes.subarray(i, ++i)) }, 250)
        s.on('error', () => {})
        s.on('close', () => { clearInterval(tick); resolve(Date.now() - t0) })
        setTimeout(() => { clearInterval(tick); s.destroy() }, 8000)
      })
      expect(closedAfter, 'an idle timer would let 42 bytes at 250 ms hold it ~10 s').to.be.within(600, 2500)
      await broker.audit.waitFor('accept.deny', { reason: 'proxy_header_timeout' })
    })

    it('closes a connection from a source not in --proxy-from before reading it (proxy_source_denied)', async () => {
      const o = await tryConnectProxied(broker.port, credentials(pki.dir, pki.vehicle(0)), v2('192.0.2.99'), { clientId: pki.vins[0] }, { localAddress: '127.0.0.2' })
      expect(o.ok).to.equal(false)
      const line = await broker.audit.waitFor('accept.deny', { reason: 'proxy_source_denied' })
      expect(line.remote).to.equal('127.0.0.2')
      expect(broker.audit.find('connect.allow')).to.have.length(0)
    })

    it('writes one audit line, not thousands, for a storm of bad connections, and counts every one', async () => {
      await Promise.all(Array.from({ length: 40 }, () => sendRaw(broker.port, [Buffer.from('GET / HTTP/1.1\r\n\r\n')])))
      await new Promise((resolve) => setTimeout(resolve, 1300))
      const lines = broker.audit.find('accept.deny', { reason: 'proxy_header_missing' })
      expect(lines.length).to.be.within(1, 3)
      // the first refusal is written alone; a later line stands for the `suppressed` since
      const counted = lines.reduce((n, l) => n + (typeof l.suppressed === 'number' ? l.suppressed : 1), 0)
      expect(counted, JSON.stringify(lines)).to.equal(40)
    })
  })

  describe('enabled with --max-connect-rate', () => {
    it('a peer outside --proxy-from spends no token of the rate: the balancer\'s cars still get in (security review 3)', async () => {
      const broker = await startTestBroker(pki.dir, { proxyProtocol: true, proxyFrom: '127.0.0.1', maxConnectRate: 3 })
      try {
        // ten connections straight to the node from outside the list: each refused before the rate is asked
        await Promise.all(Array.from({ length: 10 }, () => sendRaw(broker.port, [Buffer.from('x')], '127.0.0.2')))
        expect(broker.audit.find('accept.deny', { reason: 'connect_rate_exceeded' })).to.have.length(0)
        const o = await tryConnectProxied(broker.port, credentials(pki.dir, pki.vehicle(0)), v2('192.0.2.50'), { clientId: pki.vins[0] })
        expect(o.ok, JSON.stringify(broker.audit.find('accept.deny'))).to.equal(true)
        if (o.ok) open.push(o.client)
      } finally {
        await end(...open.splice(0))
        await broker.close()
      }
    })
  })

  describe('disabled (the default)', () => {
    let broker: TestBroker
    before(async () => { broker = await startTestBroker(pki.dir) })
    after(async () => { await broker?.close() })

    for (const [version, header] of [['v1', v1('192.0.2.7')], ['v2', v2('192.0.2.7')]] as const) {
      it(`takes a ${version} PROXY header for what it is, a bad first byte: the TLS handshake fails, nobody is admitted`, async () => {
        broker.audit.clear()
        const o = await tryConnectProxied(broker.port, credentials(pki.dir, pki.vehicle(0)), header, { clientId: pki.vins[0] })
        expect(o.ok).to.equal(false)
        const line = await broker.audit.waitFor('tls.deny')
        expect(line.remote).to.equal('127.0.0.1')
        expect(broker.audit.find('connect.allow')).to.have.length(0)
        expect(broker.audit.find('accept.deny')).to.have.length(0)
      })
    }
  })
})
