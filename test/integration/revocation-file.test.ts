// The embedded file store: shared by the CLI and a running broker, survives a
// restart, tolerates a torn last record, refuses a corrupt file (FG_ERR_STORE_INVALID).
import { expect } from 'chai'
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { randomVin } from '../../src/pki/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, tryConnect, closed, end } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'
import { isFleetgateError } from '../../src/contract/errors.js'

describe('revocation (embedded file store)', function () {
  this.timeout(40_000)
  let pki: TestPki
  let broker: TestBroker | undefined
  const clients: MqttClient[] = []
  const car = async (name: string) => { const vin = randomVin(); return { vin, dir: await pki.extra(name, 'vehicle', vin) } }

  before(async () => { pki = await testPki() })
  afterEach(async () => { await end(...clients.splice(0)); await broker?.close(); broker = undefined })

  it('`fleetgate revoke --data-dir` from another process closes the live session within 1 s, and it stays revoked across a restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-store-'))
    broker = await startTestBroker(pki.dir, { dataDir })
    const v = await car('rf-live')
    const c = await connect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
    clients.push(c)
    const r = await runCli(['revoke', '--cert', join(v.dir, 'cert.pem'), '--reason', 'keyCompromise', '--data-dir', dataDir])
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/^revoked certificate .*CN=/m)
    const t0 = Date.now()
    await closed(c, 1000)
    expect(Date.now() - t0).to.be.below(1000)
    await broker.audit.waitFor('revocation.kick', { reason: 'revoked' })
    await broker.close()
    broker = await startTestBroker(pki.dir, { dataDir })
    const o = await tryConnect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
    expect(o.ok).to.equal(false)
    if (!o.ok) expect(o.returnCode).to.equal(5)
    await broker.audit.waitFor('connect.deny', { reason: 'revoked' })
  })

  it('skips a torn last record with a warning and keeps working', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-store-'))
    const v = await car('rf-torn')
    const r = await runCli(['revoke', '--cert', join(v.dir, 'cert.pem'), '--data-dir', dataDir])
    expect(r.code, r.stderr).to.equal(0)
    appendFileSync(join(dataDir, 'revocations.jsonl'), '{"t":"rev","fingerprint":"ab') // a crash mid-append
    broker = await startTestBroker(pki.dir, { dataDir })
    await broker.audit.waitFor('revocation.store_torn')
    const o = await tryConnect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
    expect(o.ok).to.equal(false)
    // a later append still lands and is enforced
    const w = await car('rf-torn-2')
    const c = await connect(broker.port, credentials(pki.dir, w.dir), { clientId: w.vin })
    clients.push(c)
    expect((await runCli(['revoke', '--cert', join(w.dir, 'cert.pem'), '--data-dir', dataDir])).code).to.equal(0)
    await closed(c, 2000)
    const list = await runCli(['revocations', 'list', '--data-dir', dataDir])
    expect(list.code).to.equal(0)
    expect(list.stdout.trim().split('\n')).to.have.length(4) // two certs, each by fingerprint and by issuer + serial
  })

  it('refuses to start on a corrupt store: FG_ERR_STORE_INVALID, and the CLI exits 2 with one line', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fg-store-'))
    writeFileSync(join(dataDir, 'revocations.jsonl'), 'hello world\n')
    let err: unknown
    try { broker = await startTestBroker(pki.dir, { dataDir }) } catch (e) { err = e }
    expect(isFleetgateError(err) && err.code).to.equal('FG_ERR_STORE_INVALID')
    const r = await runCli(['revocations', 'list', '--data-dir', dataDir])
    expect(r.code).to.equal(2)
    expect(r.stderr.trim().split('\n')).to.have.length(1)
    expect(r.stderr).to.match(/^FG_ERR_STORE_INVALID: .*revocations\.jsonl:1/)
  })
})
