// The embedded store on a real full disk: a 64 KiB tmpfs as --data-dir (root
// only; CI runs as root). A revocation append that the disk tears must fail
// with a clear error and leave no torn bytes; the retry after space is freed
// must reach the running broker (kick the live session, refuse a new one), and a
// restart must load the store.
import { expect } from 'chai'
import { execFileSync } from 'node:child_process'
import { appendFileSync, closeSync, mkdtempSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { randomVin } from '../../src/pki/index.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, tryConnect, closed, end } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'

const PAGE = 4096 // tmpfs allocates whole pages: a write that needs one more than is free is torn at the page end

/** Fill the filesystem: write until ENOSPC. */
function fill (path: string): void {
  const fd = openSync(path, 'w')
  const block = Buffer.alloc(PAGE, 0x78)
  try {
    for (;;) writeSync(fd, block)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    closeSync(fd)
  }
}

describe('revocation (embedded store) on a full disk', function () {
  this.timeout(60_000)
  let pki: TestPki
  let mnt = ''
  let broker: TestBroker | undefined
  const clients: MqttClient[] = []

  before(async function () {
    if (process.getuid?.() !== 0) this.skip() // mounting needs root; CI runs as root
    pki = await testPki()
    const dir = mkdtempSync(join(tmpdir(), 'fg-full-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'tmpfs', dir])
    mnt = dir // unmounted in after()
  })
  afterEach(async () => { await end(...clients.splice(0)); await broker?.close(); broker = undefined })
  after(() => {
    if (mnt === '') return
    execFileSync('umount', [mnt])
    rmdirSync(mnt)
  })

  it('a torn append fails clearly and is undone; the retry kicks the live session, refuses a new one, and a restart loads the store', async () => {
    const dataDir = join(mnt, 'data')
    const file = join(dataDir, 'revocations.jsonl')
    const filler = join(mnt, 'filler')
    broker = await startTestBroker(pki.dir, { dataDir })
    const other = await pki.extra('fd-other', 'vehicle', randomVin())
    expect((await runCli(['revoke', '--cert', join(other, 'cert.pem'), '--data-dir', dataDir])).code).to.equal(0)
    const vin = randomVin()
    const victim = await pki.extra('fd-victim', 'vehicle', vin)
    const live = await connect(broker.port, credentials(pki.dir, victim), { clientId: vin })
    clients.push(live)

    // Leave 5 bytes in the file's last page (blank lines are skipped by readers), then take every free page.
    appendFileSync(file, '\n'.repeat((PAGE - 5 - (statSync(file).size % PAGE) + PAGE) % PAGE))
    const before = readFileSync(file)
    expect(before.length % PAGE).to.equal(PAGE - 5)
    fill(filler)

    const full = await runCli(['revoke', '--cert', join(victim, 'cert.pem'), '--reason', 'keyCompromise', '--data-dir', dataDir])
    expect(full.code, full.stderr).to.equal(2)
    expect(full.stderr.trim().split('\n')).to.have.length(1)
    expect(full.stderr).to.match(/^FG_ERR_STORE_WRITE: .*revocations\.jsonl: .*ENOSPC/)
    expect(readFileSync(file).equals(before), 'the torn bytes are removed').to.equal(true)

    unlinkSync(filler)
    const retry = await runCli(['revoke', '--cert', join(victim, 'cert.pem'), '--reason', 'keyCompromise', '--data-dir', dataDir])
    expect(retry.code, retry.stderr).to.equal(0)
    await closed(live, 3000)
    await broker.audit.waitFor('revocation.kick', { reason: 'revoked' })
    const again = await tryConnect(broker.port, credentials(pki.dir, victim), { clientId: vin })
    expect(again.ok).to.equal(false)
    if (!again.ok) expect(again.returnCode).to.equal(5)
    expect(broker.audit.find('revocation.store_corrupt')).to.deep.equal([])

    await broker.close()
    broker = await startTestBroker(pki.dir, { dataDir })
    const after = await tryConnect(broker.port, credentials(pki.dir, victim), { clientId: vin })
    expect(after.ok).to.equal(false)
    if (!after.ok) expect(after.returnCode).to.equal(5)
    await broker.audit.waitFor('connect.deny', { reason: 'revoked' })
  })
})
