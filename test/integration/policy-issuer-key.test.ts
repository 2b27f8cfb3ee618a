// Roles pinned to their issuing CA by key (match.issuerKey), through real TLS:
// a second trusted CA named like the issuing CA ("fleetgate Issuing CA") issues
// a vehicle certificate. Pinned by name only it gets the vehicle role; pinned by
// key (the dev PKI's policy.yaml, which `serve --dev` uses) it gets none.
import { expect } from 'chai'
import { mkdirSync, mkdtempSync, rmSync, existsSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createIntermediateCa, createRootCa, initDevPki, issueLeaf, loadCa, randomVin, type CaMaterial } from '../../src/pki/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, end, tryConnect, type Credentials } from '../harness/mqtt.js'
import { runCli, startCli, stopChild } from '../harness/cli.js'
import { defaultPolicyPath } from '../../src/policy/index.js'

/** a vehicle certificate from `ca`; `brokerRoot` verifies the broker */
async function vehicleFrom (ca: CaMaterial, brokerRoot: Buffer, vin: string): Promise<Credentials> {
  const leaf = await issueLeaf(ca, 'vehicle', vin)
  return { ca: brokerRoot, cert: Buffer.from(leaf.chainPem), key: Buffer.from(leaf.keyPem!) }
}

describe('policy: roles pinned to the issuing CA by key', function () {
  this.timeout(60_000)
  let pki: TestPki
  let broker: TestBroker | undefined
  before(async () => { pki = await testPki() })
  afterEach(async () => { await broker?.close(); broker = undefined })

  it('a second trusted CA with the issuing CA\'s name gets no role under the dev PKI\'s pinned policy (it does when pinned by name only)', async () => {
    // another fleet's hierarchy in the same trust bundle, its CAs named like ours
    const otherRoot = await createRootCa()
    const lookAlike = await createIntermediateCa(otherRoot, 'issuing')
    expect(lookAlike.commonName).to.equal('fleetgate Issuing CA')
    const dir = mkdtempSync(join(tmpdir(), 'fg-pin-'))
    const bundle = join(dir, 'bundle.pem')
    writeFileSync(bundle, readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8') + otherRoot.certPem)
    const vin = randomVin()
    const impostor = await vehicleFrom(lookAlike, readFileSync(join(pki.dir, 'root-ca.pem')), vin)
    const genuine = credentials(pki.dir, pki.vehicle(0))

    // pinned by name only (the shipped file): the look-alike's vehicle is admitted
    broker = await startTestBroker(pki.dir, { ca: bundle, policy: defaultPolicyPath })
    const admitted = await tryConnect(broker.port, impostor, { clientId: vin })
    expect(admitted.ok, 'the look-alike chain is trusted').to.equal(true)
    if (admitted.ok) await end(admitted.client)
    await broker.close()

    // pinned by key: refused no_role; the genuine vehicle still connects
    broker = await startTestBroker(pki.dir, { ca: bundle, policy: join(pki.dir, 'policy.yaml') })
    const refused = await tryConnect(broker.port, impostor, { clientId: vin })
    expect(refused.ok).to.equal(false)
    if (!refused.ok) expect(refused.returnCode).to.equal(5)
    await broker.audit.waitFor('connect.deny', { reason: 'no_role' })
    await end(await connect(broker.port, genuine, { clientId: pki.vins[0] }))
  })

  it('`fleetgate serve --dev` uses the dev PKI\'s pinned policy.yaml (`pki dev` writes it for a dev PKI made without one): a same-named CA under the same root gets no role', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'fg-serve-pin-'))
    const dev = join(cwd, 'certs', 'dev')
    mkdirSync(join(cwd, 'certs'))
    const manifest = await initDevPki(dev, { vehicles: 1 })
    rmSync(join(dev, 'policy.yaml'), { force: true }) // as a dev PKI from an earlier release
    // serve never writes into the dev PKI: without its policy.yaml it refuses, naming the file and `pki dev`
    const refusedToStart = await runCli(['serve', '--dev', '--port', '0', '--host', '127.0.0.1', '--data-dir', join(cwd, 'data')], { cwd })
    expect(refusedToStart.code).to.equal(2)
    expect(refusedToStart.stderr).to.equal('FG_ERR_CONFIG_MISSING: --dev: the dev PKI in certs/dev lacks certs/dev/policy.yaml; run "fleetgate pki dev" to check and complete it\n')
    expect(existsSync(join(dev, 'policy.yaml'))).to.equal(false)
    const completed = await runCli(['pki', 'dev'], { cwd })
    expect(completed.code, completed.stderr).to.equal(0)
    expect(completed.stdout).to.include('policy certs/dev/policy.yaml (written now)')
    // the dev root signs a second "fleetgate Issuing CA" with another key
    const lookAlike = await createIntermediateCa(await loadCa(dev, 'root'), 'issuing')
    const vin = randomVin()
    const impostor = await vehicleFrom(lookAlike, readFileSync(join(dev, 'root-ca.pem')), vin)
    const s = await startCli(['serve', '--dev', '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn', '--data-dir', join(cwd, 'data')], /mTLS MQTT on 127\.0\.0\.1:(\d+)/, { cwd })
    try {
      const port = Number(s.match[1])
      const refused = await tryConnect(port, impostor, { clientId: vin })
      expect(refused.ok, 'the look-alike CA\'s vehicle is refused').to.equal(false)
      if (!refused.ok) expect(refused.returnCode).to.equal(5)
      expect(s.stderr()).to.include('policy certs/dev/policy.yaml')
      await end(await connect(port, credentials(dev, join(dev, 'vehicles', manifest.vins[0]!)), { clientId: manifest.vins[0] }))
    } finally {
      await stopChild(s.child)
    }
  })
})
