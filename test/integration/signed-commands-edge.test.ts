// --enforce-signed-commands (ARCHITECTURE.md step 7): the broker verifies each command
// on vehicles/{vin}/commands (shape, x5c chain, ES256, signer role, payload
// vin = topic VIN, signer revocation). A refusal closes the publisher's
// connection with reason command_rejected and the command reason in the audit
// line; the car never sees the command. Freshness and replay stay with the car.
import { expect } from 'chai'
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, connect, closed, end } from '../harness/mqtt.js'
import { CarProcess, ResultInbox, commandBody, rawSigner, resultVerifier, sign } from './signed-commands-support.js'
import { tamper } from '../unit/commands/raw-jws.js'

describe('signed commands: broker edge check (--enforce-signed-commands)', function () {
  this.timeout(60_000)
  let pki: TestPki
  let broker: TestBroker
  let car: CarProcess
  let vin: string
  let revokedDir: string
  const revoked = new Set<string>()
  const lookups: Array<[string, string, string, { serial: string; rootFingerprint: string } | undefined]> = []

  before(async () => {
    pki = await testPki()
    vin = pki.vins[2]!
    revokedDir = await pki.extra('revoked-backend', 'fleet-backend', 'fleet-backend')
    revoked.add(new X509Certificate(readFileSync(join(revokedDir, 'cert.pem'))).fingerprint256.replace(/:/g, '').toLowerCase())
    broker = await startTestBroker(pki.dir, { enforceSignedCommands: true }, {
      parts: { isSignerRevoked: async (fp, issuer, serial, issuingCa) => { lookups.push([fp, issuer, serial, issuingCa]); return revoked.has(fp) } },
    })
    car = await CarProcess.start(broker.port, pki.dir, pki.vehicle(2), vin)
  })
  after(async () => {
    await car?.stop()
    await broker?.close()
  })

  async function backendSession (name: string) {
    const client = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: `fleet-backend-${name}` })
    await client.subscribeAsync(`vehicles/${vin}/command-results`, { qos: 1 })
    return { client, inbox: new ResultInbox(client, resultVerifier(pki.dir)) }
  }

  async function expectRefusedAtEdge (jws: string, jti: string, commandReason: string, topicVin = vin) {
    const { client } = await backendSession(commandReason.slice(0, 8) + '-' + jti.slice(0, 4))
    try {
      const gone = closed(client, 5000)
      client.publish(`vehicles/${topicVin}/commands`, jws, { qos: 1 }) // a denied QoS 1 publish never settles: wait for close
      await gone
      const line = await broker.audit.waitFor('publish.deny', { reason: 'command_rejected', commandReason, jti })
      expect(line.detail).to.equal(commandReason)
      expect(line).to.not.have.property('payload')
      // it never reached the car
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(car.find((l) => l.evt === 'command' && l.jti === jti)).to.equal(undefined)
    } finally {
      await end(client)
    }
  }

  it('lets an authentic command through; the car executes it', async () => {
    const { client, inbox } = await backendSession('ok')
    try {
      const b = commandBody(vin, 'unlock')
      await client.publishAsync(`vehicles/${vin}/commands`, sign(rawSigner(pki.backend), b), { qos: 1 })
      expect((await inbox.waitFor(vin, b.jti)).status).to.equal('executed')
      expect(lookups.length).to.be.greaterThan(0) // the signer was checked against revocation
      // and its issuing CA under the root, as at CONNECT
      const rootFp = new X509Certificate(readFileSync(join(pki.dir, 'root-ca.pem'))).fingerprint256.replace(/:/g, '').toLowerCase()
      expect(lookups.at(-1)![3]?.rootFingerprint).to.equal(rootFp)
    } finally { await end(client) }
  })

  it('refuses a forged (tampered) command: connection closed, command_rejected / bad_signature', async () => {
    const b = commandBody(vin, 'unlock')
    await expectRefusedAtEdge(tamper(sign(rawSigner(pki.backend), b)), b.jti, 'bad_signature')
  })

  it('refuses alg none, a monitor signer, a manufacturing-CA signer, another car\'s vin on this topic', async () => {
    const none = commandBody(vin, 'unlock')
    const h = Buffer.from(JSON.stringify({ alg: 'none', x5c: rawSigner(pki.backend).x5c })).toString('base64url')
    await expectRefusedAtEdge(`${h}.${Buffer.from(JSON.stringify(none)).toString('base64url')}.`, none.jti, 'malformed')
    const mon = commandBody(vin, 'unlock')
    await expectRefusedAtEdge(sign(rawSigner(pki.monitor), mon), mon.jti, 'insufficient_privileges')
    const factory = commandBody(vin, 'unlock')
    const factoryDir = await pki.extra('factory-backend', 'fleet-backend', 'fleet-backend', { from: 'manufacturing' })
    await expectRefusedAtEdge(sign(rawSigner(factoryDir), factory), factory.jti, 'untrusted_signer')
    const other = commandBody(pki.vins[0]!, 'unlock')
    await expectRefusedAtEdge(sign(rawSigner(pki.backend), other), other.jti, 'wrong_vin')
  })

  it('refuses a command signed by a revoked backend certificate (the car cannot see revocation)', async () => {
    const b = commandBody(vin, 'unlock')
    await expectRefusedAtEdge(sign(rawSigner(revokedDir), b), b.jti, 'untrusted_signer')
    const line = await broker.audit.waitFor('publish.deny', { commandReason: 'untrusted_signer', jti: b.jti })
    expect(line.revocation).to.equal('revoked')
  })

  it('leaves freshness and replay to the car: an expired command passes the edge and the car rejects it', async () => {
    const { client, inbox } = await backendSession('stale')
    try {
      const now = Date.now()
      const b = commandBody(vin, 'unlock', { iat: now - 120_000, exp: now - 90_000 })
      await client.publishAsync(`vehicles/${vin}/commands`, sign(rawSigner(pki.backend), b), { qos: 1 })
      expect(await inbox.waitFor(vin, b.jti)).to.deep.include({ status: 'rejected', reason: 'expired' })
    } finally { await end(client) }
  })
})

describe('signed commands: edge check with the real revocation store', function () {
  this.timeout(60_000)
  let pki: TestPki
  let broker: TestBroker
  let dataDir: string

  before(async () => {
    pki = await testPki()
    const { mkdtempSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    dataDir = mkdtempSync(join(tmpdir(), 'fg-edge-store-'))
    broker = await startTestBroker(pki.dir, { enforceSignedCommands: true, dataDir })
  })
  after(async () => {
    await broker?.close()
    const { rmSync } = await import('node:fs')
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('refuses a command whose signer certificate was revoked in the store (fleetgate revoke)', async () => {
    const signerDir = await pki.extra('store-revoked-backend', 'fleet-backend', 'fleet-backend')
    const fp = new X509Certificate(readFileSync(join(signerDir, 'cert.pem'))).fingerprint256.replace(/:/g, '').toLowerCase()
    await broker.fleetgate.revocations.revoke([{ fingerprint: fp }], { reason: 'keyCompromise', revokedAt: new Date().toISOString() })
    const vin = pki.vins[3]!
    const client = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-store' })
    try {
      const b = commandBody(vin, 'unlock')
      const gone = closed(client, 5000)
      client.publish(`vehicles/${vin}/commands`, sign(rawSigner(signerDir), b), { qos: 1 })
      await gone
      const line = await broker.audit.waitFor('publish.deny', { reason: 'command_rejected', commandReason: 'untrusted_signer', jti: b.jti })
      expect(line.revocation).to.equal('revoked')
    } finally { await end(client) }
  })
})
