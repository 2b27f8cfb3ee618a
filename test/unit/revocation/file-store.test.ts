// The embedded store's I/O on a real file: each StoreFile, with the revocation
// store and the device registry on it, stands for one process (the broker and
// the provisioner share the file as the registry).
import { expect } from 'chai'
import { appendFileSync, constants, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StoreFile, STORE_FILE } from '../../../src/revocation/store-file.js'
import { FileRevocationStore } from '../../../src/revocation/file-store.js'
import { FileDeviceRegistry } from '../../../src/revocation/registry-file.js'
import type { AuditLogger } from '../../../src/audit/index.js'
import { encodeRegistryLine, encodeRevoked } from '../../../src/revocation/file-log.js'
import { certificateStatus, type RegistryRecord, type RevocationEvent } from '../../../src/stores/index.js'
import { AuditSink } from '../../harness/audit-sink.js'
import { FileProvisionerState, STATE_FILE } from '../../../src/provisioning/state.js'

const fp = (i: number) => i.toString(16).padStart(64, '0')
const issued = (i: number): RegistryRecord => ({ serial: i.toString(16), notAfter: '2030-01-01T00:00:00.000Z', issuedAt: '2026-01-01T00:00:00.000Z', state: 'issued' })

/** one process's view of the file: its revocation store and registry on one StoreFile */
interface Proc { readonly rev: FileRevocationStore; readonly reg: FileDeviceRegistry }
async function openProc (dataDir: string, log?: AuditLogger): Promise<Proc> {
  const file = await StoreFile.open({ dataDir, log })
  return { rev: new FileRevocationStore(file), reg: new FileDeviceRegistry(file) }
}
async function closeProc (p: Proc): Promise<void> { await p.rev.close(); await p.reg.close() }

describe('embedded store: group commit and tailing', () => {
  let dir: string
  const open: Proc[] = []
  const store = async () => { const s = await openProc(dir); open.push(s); return s }
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'fg-file-store-')) })
  afterEach(async () => { for (const s of open.splice(0)) await closeProc(s); rmSync(dir, { recursive: true, force: true }) })

  it('a watched store finds a registry record the other process wrote an instant ago', async () => {
    const broker = await store()
    await broker.rev.watch(() => {})
    await broker.reg.set('VIN', fp(100), issued(100)) // the file exists, the watcher is idle
    await new Promise((resolve) => setTimeout(resolve, 100))
    // A watched store does not stat the file before each lookup: a miss must read the
    // tail. The other process's line lands in this very tick, before any watch event.
    for (let i = 0; i < 20; i++) {
      appendFileSync(join(dir, STORE_FILE), encodeRegistryLine('VIN', fp(i), issued(i)))
      const s = await certificateStatus(broker.rev, broker.reg).status({ targets: [], registry: { vin: 'VIN', fingerprint: fp(i) } })
      expect(s.registry?.state, `record ${i}`).to.equal('issued')
      expect(await broker.reg.markActive('VIN', fp(i))).to.equal(true)
    }
    const provisioner = await store()
    expect((await provisioner.reg.get('VIN'))[fp(19)]?.state).to.equal('active')
  })

  it('concurrent appends are each durable, in one file a fresh reader accepts whole', async () => {
    const writer = await store()
    const watcher = await store()
    const seen: RevocationEvent[] = []
    await watcher.rev.watch((e) => seen.push(e))
    await Promise.all(Array.from({ length: 200 }, (_, i) => i % 2 === 0
      ? writer.reg.set(`VIN${i}`, fp(i), issued(i))
      : writer.rev.revoke([{ fingerprint: fp(i) }], { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' })))
    const lines = readFileSync(join(dir, STORE_FILE), 'utf8').split('\n')
    expect(lines.pop()).to.equal('')
    // each revoke() also appends its operator log line (README "Operator log")
    expect(lines.filter((l) => !l.startsWith('{"t":"op"'))).to.have.length(200)
    expect(lines.filter((l) => l.startsWith('{"t":"op","action":"revoke"'))).to.have.length(100)
    const fresh = await store()
    expect(await fresh.rev.list()).to.have.length(100)
    for (let i = 0; i < 200; i += 2) expect((await fresh.reg.get(`VIN${i}`))[fp(i)]?.state).to.equal('issued')
    // the other process hears every revocation
    const deadline = Date.now() + 3000
    while (seen.filter((e) => e.kind === 'revoked').length < 100 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(seen.filter((e) => e.kind === 'revoked')).to.have.length(100)
  })

  it('appends are synchronous writes: the store file and the provisioner journal are written through O_DSYNC handles (Linux)', async function () {
    if (process.platform !== 'linux') this.skip()
    /** the open flags (octal, /proc/self/fdinfo) of this process's handles on `path` */
    const flagsOf = (path: string) => readdirSync('/proc/self/fd').flatMap((fd) => {
      try { if (readlinkSync(`/proc/self/fd/${fd}`) !== path) return [] } catch { return [] }
      const m = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
      return m ? [parseInt(m[1]!, 8)] : []
    })
    const writable = (flags: number) => (flags & (constants.O_WRONLY | constants.O_RDWR)) !== 0
    const s = await store()
    await s.reg.set('VIN', fp(300), issued(300))
    const handles = flagsOf(join(dir, STORE_FILE)).filter(writable)
    expect(handles).to.have.length(1)
    expect(handles[0]! & constants.O_DSYNC, 'O_DSYNC on the store file').to.equal(constants.O_DSYNC)
    const state = new FileProvisionerState(dir)
    try {
      await state.remember('VIN', 'n1', { v: 1, nonce: 'n1', status: 'issued', certificate: 'c', chain: 'ch', notAfter: '2030-01-01T00:00:00.000Z' })
      const journal = flagsOf(join(dir, STATE_FILE)).filter(writable)
      expect(journal).to.have.length(1)
      expect(journal[0]! & constants.O_DSYNC, 'O_DSYNC on the journal').to.equal(constants.O_DSYNC)
    } finally { await state.close() }
  })

  it('a line another writer left torn after our handle opened: our record, glued onto it, is still read', async () => {
    const writer = await store()
    await writer.reg.set('VIN', fp(1), issued(1)) // the handle is open from here on
    appendFileSync(join(dir, STORE_FILE), '{"t":"rev","fingerprint":"ab') // a crash mid-append elsewhere
    await writer.rev.revoke([{ fingerprint: fp(2) }], { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' })
    const fresh = await store()
    const s = await fresh.rev.status({ targets: [{ fingerprint: fp(2) }] })
    expect(s.revoked).to.include({ fingerprint: fp(2), reason: 'keyCompromise' })
    expect((await fresh.reg.get('VIN'))[fp(1)]?.state).to.equal('issued')
  })

  it('a lookup that misses reads again after a read already in flight (which may have sized the file before the write)', async () => {
    const broker = await store()
    await broker.rev.watch(() => {})
    await broker.reg.set('VIN', fp(300), issued(300))
    await new Promise((resolve) => setTimeout(resolve, 100))
    for (let i = 0; i < 50; i++) {
      const inFlight = broker.rev.refresh() // as a watch event or the poll would start one
      appendFileSync(join(dir, STORE_FILE), encodeRegistryLine('VIN', fp(400 + i), issued(400 + i)))
      const s = await certificateStatus(broker.rev, broker.reg).status({ targets: [], registry: { vin: 'VIN', fingerprint: fp(400 + i) } })
      await inFlight
      expect(s.registry?.state, `record ${i}`).to.equal('issued')
    }
  })

  it('appends follow the path when the file is replaced or deleted (never into an orphaned file)', async () => {
    const writer = await store()
    await writer.reg.set('VIN', fp(1), issued(1)) // the write handle is open from here on
    const path = join(dir, STORE_FILE)
    // replaced (an editor's save, a restored backup: a new file renamed over the old one)
    writeFileSync(path + '.new', readFileSync(path))
    renameSync(path + '.new', path)
    await writer.rev.revoke([{ fingerprint: fp(2) }], { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' })
    // deleted
    unlinkSync(path)
    await writer.rev.revoke([{ fingerprint: fp(3) }], { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' })
    const fresh = await store()
    expect((await fresh.rev.status({ targets: [{ fingerprint: fp(3) }] })).revoked).to.include({ fingerprint: fp(3) })
    // fp(2) went into the replaced file, which the deletion removed: nothing of it may be claimed either
    expect((await writer.rev.status({ targets: [{ fingerprint: fp(3) }] })).revoked).to.include({ fingerprint: fp(3) })
  })

  it('a reader whose file was replaced by another starts over (offsets of the old file mean nothing)', async () => {
    const writer = await store()
    await writer.reg.set('VIN', fp(1), issued(1))
    const reader = await store()
    expect((await reader.reg.get('VIN'))[fp(1)]?.state).to.equal('issued') // read through its kept handle
    const events: RevocationEvent[] = []
    await reader.rev.watch((e) => events.push(e))
    const path = join(dir, STORE_FILE)
    // a longer file, with a revocation at the front, renamed over the old one
    const other = encodeRevoked({ fingerprint: fp(2), reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' }) + readFileSync(path, 'utf8') +
      encodeRegistryLine('VIN', fp(3), issued(3))
    writeFileSync(path + '.new', other)
    renameSync(path + '.new', path)
    const deadline = Date.now() + 3000
    while (!events.some((e) => e.kind === 'resync') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(events.map((e) => e.kind)).to.include('resync')
    expect((await reader.rev.status({ targets: [{ fingerprint: fp(2) }] })).revoked).to.include({ fingerprint: fp(2) })
    expect((await reader.reg.get('VIN'))[fp(3)]?.state).to.equal('issued')
  })
  it('a replacement file that cannot be loaded leaves what was known in place: a revoked certificate never turns clean', async () => {
    const writer = await store()
    await writer.rev.revoke([{ fingerprint: fp(4) }], { reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' })
    const reader = await store()
    const events: RevocationEvent[] = []
    await reader.rev.watch((e) => events.push(e))
    const path = join(dir, STORE_FILE)
    writeFileSync(path + '.new', 'this is not a fleetgate store\n')
    renameSync(path + '.new', path)
    const deadline = Date.now() + 3000
    while (!events.some((e) => e.kind === 'resync') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(events.map((e) => e.kind)).to.include('resync')
    // any answer but "clean": revoked, or a refusal to answer
    let revoked: unknown
    try { revoked = (await reader.rev.status({ targets: [{ fingerprint: fp(4) }] })).revoked } catch { revoked = 'refused' }
    expect(revoked).to.not.equal(null)
    revoked = (await reader.rev.status({ targets: [{ fingerprint: fp(4) }] }).catch(() => ({ revoked: 'refused' }))).revoked
    expect(revoked).to.not.equal(null)
  })
})

describe('embedded store: a torn line in the middle (a full disk took a few bytes, the retry closed the line off)', () => {
  let dir: string
  const open: Proc[] = []
  const rev = (i: number) => encodeRevoked({ fingerprint: fp(i), reason: 'keyCompromise', revokedAt: '2026-01-01T00:00:00.000Z' })
  const TORN = '{"t":' // what the full disk let through: 5 of 353 bytes
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'fg-file-torn-')) })
  afterEach(async () => { for (const s of open.splice(0)) await closeProc(s); rmSync(dir, { recursive: true, force: true }) })

  it('a running reader applies every record after it and audits the file and byte offset', async () => {
    const path = join(dir, STORE_FILE)
    writeFileSync(path, rev(1))
    const sink = new AuditSink()
    const reader = await openProc(dir, sink.logger)
    open.push(reader)
    const events: RevocationEvent[] = []
    await reader.rev.watch((e) => events.push(e))
    appendFileSync(path, TORN)
    await reader.rev.refresh()
    appendFileSync(path, '\n' + rev(2) + encodeRegistryLine('VIN', fp(3), issued(3)))
    await reader.rev.refresh()
    expect((await reader.rev.status({ targets: [{ fingerprint: fp(2) }] })).revoked).to.include({ fingerprint: fp(2) })
    expect((await reader.reg.get('VIN'))[fp(3)]?.state).to.equal('issued')
    expect(events).to.deep.include({ kind: 'revoked', target: { fingerprint: fp(2) } })
    expect(sink.find('revocation.store_torn')).to.have.length(1)
    expect(sink.find('revocation.store_torn')[0]).to.include({ level: 'warn', path, offset: rev(1).length })
    expect(sink.find('revocation.store_corrupt')).to.deep.equal([])
  })

  it('loading at start tolerates it the same way (audited), and keeps every record', async () => {
    const path = join(dir, STORE_FILE)
    writeFileSync(path, rev(1) + TORN + '\n' + rev(2))
    const sink = new AuditSink()
    const s = await openProc(dir, sink.logger)
    open.push(s)
    expect(await s.rev.list()).to.have.length(2)
    expect(sink.find('revocation.store_torn')[0]).to.include({ level: 'warn', path, offset: rev(1).length })
  })

  it('a running reader still applies the records after a corrupt line (and asks for a re-check)', async () => {
    const path = join(dir, STORE_FILE)
    writeFileSync(path, rev(1))
    const sink = new AuditSink()
    const reader = await openProc(dir, sink.logger)
    open.push(reader)
    const events: RevocationEvent[] = []
    await reader.rev.watch((e) => events.push(e))
    appendFileSync(path, 'hello\n' + rev(2))
    await reader.rev.refresh()
    expect((await reader.rev.status({ targets: [{ fingerprint: fp(2) }] })).revoked).to.include({ fingerprint: fp(2) })
    expect(events.map((e) => e.kind)).to.include.members(['revoked', 'resync'])
    expect(sink.find('revocation.store_corrupt')[0]).to.include({ level: 'error', path, offset: rev(1).length })
  })
})
