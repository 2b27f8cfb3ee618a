// A reload that changes the trust bundle must also reach connections whose TLS
// handshake ended before it but whose CONNECT comes after (ARCHITECTURE.md step 1, reload).
import { expect } from 'chai'
import { connect as tlsConnect } from 'node:tls'
import { copyFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqttPacket from 'mqtt-packet'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials } from '../harness/mqtt.js'

describe('reload: connections between handshake and CONNECT', function () {
  this.timeout(20_000)
  let pki: TestPki
  let broker: TestBroker
  let caFile: string

  before(async () => {
    pki = await testPki()
    caFile = join(mkdtempSync(join(tmpdir(), 'fg-race-')), 'ca.pem')
    copyFileSync(join(pki.dir, 'root-ca.pem'), caFile)
    broker = await startTestBroker(pki.dir, { ca: caFile })
  })
  after(async () => { await broker?.close() })

  it('a handshake made under the old bundle is decided under the new one at CONNECT', async () => {
    const vin = pki.vins[0]!
    const socket = tlsConnect({ host: '127.0.0.1', port: broker.port, servername: 'localhost', ...credentials(pki.dir, pki.vehicle(0)) })
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject) })
    await new Promise((r) => setTimeout(r, 100)) // the broker has described the connection under the old bundle

    copyFileSync(join(pki.dir, 'rogue', 'ca.pem'), caFile) // the fleet root is no longer trusted
    const result = broker.reload()
    expect(result.ok).to.equal(true)

    const connack = new Promise<number>((resolve, reject) => {
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      parser.on('packet', (p) => { if (p.cmd === 'connack') resolve((p as mqttPacket.IConnackPacket).returnCode!) })
      socket.on('data', (d: Buffer) => parser.parse(d))
      socket.once('close', () => reject(new Error('closed without CONNACK')))
    })
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: vin, keepalive: 30 }))
    expect(await connack).to.equal(5)
    const line = await broker.audit.waitFor('connect.deny', { reason: 'no_client_auth' })
    expect(line.detail).to.match(/trust anchor/)
    expect(broker.audit.find('connect.allow')).to.have.length(0)
    socket.destroy()
  })
})
