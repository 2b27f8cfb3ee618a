// --enforce-signed-commands across a reload: the edge check's trust is the
// --ca bundle's roots, so a reload that drops a root drops the command signers
// under it, even for a publisher whose own connection the new bundle still admits.
import { expect } from 'chai'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, closed, end } from '../harness/mqtt.js'
import { commandBody, rawSigner, sign } from './signed-commands-support.js'
import { initDevPki } from '../../src/pki/index.js'

describe('signed commands: the edge check follows a reloaded trust bundle', function () {
  this.timeout(60_000)
  let pki: TestPki
  let other: string
  let bundle: string
  let broker: TestBroker

  before(async () => {
    pki = await testPki()
    // a second fleet PKI (same names, other keys): its backend stays admitted after the reload
    other = mkdtempSync(join(tmpdir(), 'fg-pki-other-'))
    await initDevPki(other, { vehicles: 1 })
    bundle = join(mkdtempSync(join(tmpdir(), 'fg-bundle-')), 'ca.pem')
    writeFileSync(bundle, readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8') + readFileSync(join(other, 'root-ca.pem'), 'utf8'))
    broker = await startTestBroker(pki.dir, { ca: bundle, enforceSignedCommands: true })
  })
  after(async () => { await broker?.close() })

  const command = (vin: string) => commandBody(vin, 'unlock')
  // the other fleet's backend publishes; the command is signed by this fleet's backend
  const publisher = (name: string) => connect(broker.port, {
    ca: readFileSync(join(pki.dir, 'root-ca.pem')), // it checks the broker, whose certificate is this fleet's
    cert: readFileSync(join(other, 'backend', 'cert.pem')),
    key: readFileSync(join(other, 'backend', 'key.pem')),
  }, { clientId: `fleet-backend-${name}` })

  it('admits the signer before the reload, refuses it (untrusted_signer) after one that drops its root', async () => {
    const vin = pki.vins[3]!
    const before = await publisher('before')
    try {
      await before.publishAsync(`vehicles/${vin}/commands`, sign(rawSigner(pki.backend), command(vin)), { qos: 1 }) // PUBACK: admitted
    } finally { await end(before) }

    writeFileSync(bundle, readFileSync(join(other, 'root-ca.pem')))
    const r = broker.reload()
    expect(r.ok, JSON.stringify(r)).to.equal(true)

    const after = await publisher('after') // still admitted: its root is in the new bundle
    try {
      const b = command(vin)
      const gone = closed(after, 5000)
      after.publish(`vehicles/${vin}/commands`, sign(rawSigner(pki.backend), b), { qos: 1 }) // a denied QoS 1 publish never settles
      await gone
      const line = await broker.audit.waitFor('publish.deny', { reason: 'command_rejected', commandReason: 'untrusted_signer', jti: b.jti })
      expect(line.detail).to.equal('untrusted_signer')
    } finally { await end(after) }
  })
})
