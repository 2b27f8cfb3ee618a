// The embedded store's file: one append-only JSON-lines file under --data-dir
// holding revocations and the device registry (file-log.ts), each append on
// disk before it is acknowledged (O_DSYNC, else fdatasync:
// stores/durable-append.ts), read whole at start and then tailed (fs.watch
// plus a stat poll), so `fleetgate revoke --data-dir` from another process
// reaches a running broker within a second and survives restarts. Two ports
// sit on it: the revocation store (file-store.ts) and the device registry
// (registry-file.ts); opened together they share one StoreFile, which closes
// with its last user.
//
// Costs, measured in a provisioning storm (where the broker and the provisioner
// share this file as the registry): opening, stat-ing and closing the file on
// every lookup and every append was a fifth of the broker's own work. So:
// appends of concurrent callers share one durable write on a handle kept
// open (group commit); the tail is read through a kept handle (reopened when the
// path names another file); and a watched file trusts its watcher instead of
// stat-ing before each lookup. A registry lookup that misses still reads the
// tail first: the provisioner may have written the record an instant ago.
// The tail's stat and read are synchronous (a local file in the page cache: a few
// µs each, against a thread-pool round trip per call; its parse was synchronous
// already); opening and writing stay asynchronous.
import { readSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { fgError } from '../contract/errors.js'
import type { AuditLogger } from '../audit/index.js'
import type { OperatorAct, OperatorLogEntry, RegistryRecord, RevocationEntry, RevocationQuery, RevocationStatus, RevocationTarget, RevokedRecord, StateChange, StateRecord, StoreEvent } from '../stores/index.js'
import { DSYNC, durableAppendFlags } from '../stores/index.js'
import { encodeOpLine, encodeRegistryLine, encodeRevoked, encodeStateLine, parseChunk, type LogRecord } from './file-log.js'

export const STORE_FILE = 'revocations.jsonl'

export interface FileStoreOptions {
  readonly dataDir: string
  readonly log?: AuditLogger
  /** stat poll period, the fallback when fs.watch says nothing */
  readonly pollMs?: number
}

export class StoreFile {
  readonly path: string
  readonly #opts: FileStoreOptions
  #byFingerprint = new Map<string, RevokedRecord>()
  #bySerial = new Map<string, RevokedRecord>()
  /** states other than active, by the target's key (targetKey) */
  #states = new Map<string, StateRecord>()
  /** the operator log, in file order */
  #oplog: OperatorLogEntry[] = []
  #registry = new Map<string, Map<string, RegistryRecord>>()
  #offset = 0
  #refreshing: Promise<void> | null = null
  #appending: Promise<unknown> = Promise.resolve()
  #listeners: Array<(e: StoreEvent) => void> = []
  #watcher: FSWatcher | null = null
  #poll: NodeJS.Timeout | null = null
  #closed = false
  /** the ports open on this file: the last to close closes it */
  #users = 0
  /** the tail reader's handle and the inode it is open on */
  #reader: { fh: FileHandle; ino: number } | null = null
  /** group commit: text waiting for the next write, and who waits for it */
  #queued = ''
  #waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  #writer: { fh: FileHandle; ino: number } | null = null

  private constructor (opts: FileStoreOptions) {
    this.#opts = opts
    this.path = join(opts.dataDir, STORE_FILE)
  }

  static async open (opts: FileStoreOptions): Promise<StoreFile> {
    const store = new StoreFile(opts)
    try {
      await mkdir(opts.dataDir, { recursive: true })
    } catch (err) {
      throw fgError('FG_ERR_CONFIG_INVALID', `--data-dir ${opts.dataDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err)
    }
    await store.#load()
    return store
  }

  /** Read the whole file through a handle kept for tailing: its inode tells a later read whether the path still names it. */
  async #load (): Promise<void> {
    let fh: FileHandle
    try {
      fh = await open(this.path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw fgError('FG_ERR_STORE_INVALID', `${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err)
    }
    let buf: Buffer
    let ino: number
    try {
      ino = (await fh.stat()).ino
      buf = await fh.readFile()
    } catch (err) {
      await fh.close().catch(() => {})
      throw fgError('FG_ERR_STORE_INVALID', `${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err)
    }
    const chunk = parseChunk(buf)
    const bad = chunk.corrupt[0]
    if (bad) {
      // not a torn write: refuse to start rather than guess (fail closed)
      await fh.close().catch(() => {})
      const line = countLines(buf, bad.offset) + 1
      throw fgError('FG_ERR_STORE_INVALID', `${this.path}:${line} (byte ${bad.offset}): ${bad.problem} (the file is not a fleetgate store, or was edited by hand)`)
    }
    this.#warnTorn(chunk.torn)
    if (chunk.consumed < buf.length) this.#opts.log?.warn({ evt: 'revocation.store_torn', path: this.path, offset: chunk.consumed }, 'the store ends with an incomplete record (a crash mid-write?): ignored')
    for (const r of chunk.records) this.#apply(r)
    this.#offset = chunk.consumed
    this.#reader = { fh, ino }
  }

  #warnTorn (offsets: number[]): void {
    for (const offset of offsets) this.#opts.log?.warn({ evt: 'revocation.store_torn', path: this.path, offset }, 'skipped a torn record in the store (a crash or a full disk mid-write); the records after it are applied')
  }

  #apply (r: LogRecord, emit = false): void {
    if (r.t === 'rev') {
      const rec = r.record
      if ('fingerprint' in rec) this.#byFingerprint.set(rec.fingerprint, rec)
      else this.#bySerial.set(`${rec.issuer}:${rec.serial}`, rec)
      if (emit) this.#emit({ kind: 'revoked', target: 'fingerprint' in rec ? { fingerprint: rec.fingerprint } : { issuer: rec.issuer, serial: rec.serial } })
    } else if (r.t === 'st') {
      const key = stateKey(r.target)
      if (r.state === 'active') this.#states.delete(key)
      else this.#states.set(key, { ...r.target, state: r.state, at: r.at, by: r.by, reason: r.reason })
      if (emit) this.#emit({ kind: 'state', target: r.target })
    } else if (r.t === 'op') {
      this.#oplog.push(r.entry)
    } else {
      let m = this.#registry.get(r.vin)
      if (!m) this.#registry.set(r.vin, (m = new Map()))
      m.set(r.fingerprint, r.record)
      if (emit && r.firstConnect) this.#emit({ kind: 'first_connect', vin: r.vin, fingerprint: r.fingerprint })
    }
  }

  #emit (e: StoreEvent): void {
    for (const l of this.#listeners) l(e)
  }

  /** Read what other processes (or we) appended since the last read (joins a read in flight). */
  refresh (): Promise<void> {
    this.#refreshing ??= this.#readTail().finally(() => { this.#refreshing = null })
    return this.#refreshing
  }

  #again: Promise<void> | null = null
  /**
   * A read that starts now or after the one in flight: that one may have sized the
   * file before a write this caller knows of (its own append, or the provisioner's).
   */
  #refreshAfterNow (): Promise<void> {
    const current = this.#refreshing
    if (current === null) return this.refresh()
    this.#again ??= current.catch(() => {}).then(() => { this.#again = null; return this.refresh() })
    return this.#again
  }

  async #readTail (): Promise<void> {
    const st = statOf(this.path)
    if (st === undefined) return
    const size = st.size
    if (size < this.#offset || (this.#reader !== null && this.#reader.ino !== st.ino)) {
      // truncated, or replaced by another file (an editor's save, a restored
      // backup): offsets mean nothing any more; start over and re-check everything
      // The new file is loaded into empty maps, swapped in only once it loaded:
      // an unreadable replacement must not leave the store empty, answering
      // every revoked certificate "clean" until the next read.
      const known = { byFingerprint: this.#byFingerprint, bySerial: this.#bySerial, registry: this.#registry, states: this.#states, oplog: this.#oplog }
      this.#byFingerprint = new Map(); this.#bySerial = new Map(); this.#registry = new Map(); this.#states = new Map(); this.#oplog = []
      this.#offset = 0
      await this.#closeReader()
      try {
        await this.#load()
      } catch (err) {
        // keep what was known; the next read takes the file from its start, on top of it
        ;({ byFingerprint: this.#byFingerprint, bySerial: this.#bySerial, registry: this.#registry, states: this.#states, oplog: this.#oplog } = known)
        this.#offset = 0
        this.#opts.log?.error({ evt: 'revocation.store_corrupt', path: this.path, problem: (err as Error).message }, 'the replaced store file cannot be loaded: keeping what was known')
        this.#emit({ kind: 'resync' })
        throw err
      }
      this.#emit({ kind: 'resync' })
      return
    }
    if (size === this.#offset) return
    if (this.#reader === null) {
      const fh = await open(this.path, 'r')
      this.#reader = { fh, ino: (await fh.stat()).ino }
      if (this.#closed) { await this.#closeReader(); return }
    }
    const buf = Buffer.alloc(size - this.#offset)
    const bytesRead = readSync(this.#reader.fh.fd, buf, 0, buf.length, this.#offset)
    // #offset stops before an incomplete last line, so it is read again whole
    const chunk = parseChunk(buf.subarray(0, bytesRead), this.#offset)
    this.#offset += chunk.consumed
    this.#warnTorn(chunk.torn)
    // every valid record is applied, also after a bad line: skipping one would fail open
    for (const r of chunk.records) this.#apply(r, true)
    for (const c of chunk.corrupt) this.#opts.log?.error({ evt: 'revocation.store_corrupt', path: this.path, offset: c.offset, problem: c.problem }, 'skipped a corrupt line in the store: re-checking everything')
    if (chunk.corrupt.length > 0) this.#emit({ kind: 'resync' })
  }

  async #closeReader (): Promise<void> {
    const r = this.#reader
    this.#reader = null
    await r?.fh.close().catch(() => {})
  }

  /** a port opened on this file (the last to release it closes it) */
  use (): this { this.#users++; return this }

  async release (): Promise<void> {
    if (--this.#users <= 0) await this.#close()
  }

  healthy (): boolean { return !this.#closed }

  /**
   * Before a lookup: a file without a watcher (the CLI), or a caller that asks
   * for it, reads the tail first. A watched file trusts its watcher (joining a
   * read one of its events started), but when the lookup would miss it reads
   * again: the provisioner may have written the record an instant ago.
   */
  async #readyFor (fresh: boolean, missing: () => boolean): Promise<void> {
    if (this.#watcher === null || fresh) return await this.#refreshAfterNow()
    if (this.#refreshing !== null) await this.refresh()
    if (missing()) await this.#refreshAfterNow()
  }

  async revocationStatus (query: RevocationQuery): Promise<RevocationStatus> {
    await this.#readyFor(query.fresh === true, () => false)
    let revoked: RevokedRecord | null = null
    for (const t of query.targets) {
      revoked = 'fingerprint' in t ? this.#byFingerprint.get(t.fingerprint) ?? null : this.#lookupSerial(t.issuer, t.serial)
      if (revoked) break
    }
    let state: StateRecord | null = null
    for (const t of query.targets) {
      state = this.#states.get(stateKey(t)) ?? null
      if (state) break
    }
    return { revoked, state }
  }

  /** append each target's state line and its operator log line in one durable write */
  async setState (targets: readonly RevocationTarget[], change: StateChange): Promise<number> {
    const action = change.state === 'active' ? 'activate' : change.state === 'inactive' ? 'deactivate' : 'quarantine'
    await this.#append(targets.map((t) => encodeStateLine(t, change) + encodeOpLine({ action, target: t, by: change.by, at: change.at, reason: change.reason, note: change.note ?? '' })).join(''))
    return targets.length
  }

  /** revocations an operator made: each with its operator log line */
  async revokeLogged (targets: readonly RevocationTarget[], entry: RevocationEntry): Promise<number> {
    await this.#append(targets.map((t) => encodeRevoked({ ...t, reason: entry.reason, revokedAt: entry.revokedAt } as RevokedRecord) +
      encodeOpLine({ action: 'revoke', target: t, by: entry.by ?? '', at: entry.revokedAt, reason: entry.reason, note: entry.note ?? '' })).join(''))
    return targets.length
  }

  async history (match: { readonly fingerprint?: string; readonly serial?: string }): Promise<OperatorLogEntry[]> {
    await this.#refreshAfterNow()
    return this.#oplog.filter((e) => ('fingerprint' in e.target && e.target.fingerprint === match.fingerprint) || ('serial' in e.target && e.target.serial === match.serial))
  }

  async registryRecord (vin: string, fingerprint: string, fresh = false): Promise<RegistryRecord | null> {
    await this.#readyFor(fresh, () => this.#registry.get(vin)?.get(fingerprint) === undefined)
    return this.#registry.get(vin)?.get(fingerprint) ?? null
  }

  #lookupSerial (issuer: string, serial: string): RevokedRecord | null {
    // keys are normalised at load (decodeLine), so one spelling suffices
    return this.#bySerial.get(`${issuer}:${serial}`) ?? null
  }

  /**
   * Append lines, durable when this resolves, then read back (so this process
   * sees what it wrote in file order with everyone else's). Concurrent appends
   * share one durable write on a handle kept open. A torn last line left by
   * a crash is closed off when the handle opens; one torn later by another
   * writer's crash gets our record glued on, which the reader keeps (parseChunk).
   * A failed append (a full disk) rejects with FG_ERR_STORE_WRITE and removes
   * the bytes it did write, so a retry starts on a clean line.
   */
  async #append (text: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#queued += text
      this.#waiters.push({ resolve, reject })
      this.#appending = this.#appending.then(() => this.#flush())
    })
    await this.#refreshAfterNow()
  }

  async #flush (): Promise<void> {
    if (this.#waiters.length === 0) return // an earlier flush took this text
    let text = this.#queued
    const waiters = this.#waiters
    this.#queued = ''
    this.#waiters = []
    const attempt: WriteAttempt = { bytes: Buffer.alloc(0), written: 0 }
    try {
      if (this.#closed) throw new Error('store closed')
      // The kept handle must still be the file the path names: a file replaced
      // or deleted meanwhile would swallow appends no reader ever sees.
      if (this.#writer !== null) {
        const st = statOf(this.path)
        if (st === undefined || st.ino !== this.#writer.ino) await this.#closeWriter()
      }
      if (this.#writer === null) {
        // O_DSYNC where there is one: each write is on disk when it returns (no fdatasync after it)
        const fh = await open(this.path, durableAppendFlags(true), 0o666)
        const st = await fh.stat()
        this.#writer = { fh, ino: st.ino }
        if (st.size > 0) {
          // a torn last line (a crash mid-append) is closed off first
          const last = Buffer.alloc(1)
          await fh.read(last, 0, 1, st.size - 1)
          if (last[0] !== 0x0a) text = '\n' + text
        } else {
          await this.#writeAll(fh, text, attempt)
          if (DSYNC === 0) await fh.datasync()
          await syncDir(this.#opts.dataDir) // the new file's name is durable too
          text = ''
        }
      }
      if (text !== '') {
        await this.#writeAll(this.#writer.fh, text, attempt)
        if (DSYNC === 0) await this.#writer.fh.datasync()
      }
      for (const w of waiters) w.resolve()
    } catch (err) {
      const undone = this.#writer !== null && attempt.written > 0 ? await undoAppend(this.#writer.fh, attempt.bytes.subarray(0, attempt.written)) : true
      await this.#closeWriter()
      const e = writeError(this.path, err, attempt, undone)
      for (const w of waiters) w.reject(e)
    }
  }

  /** write all of `text`; a short write is followed by another, which reports the disk's error (ENOSPC) */
  async #writeAll (fh: FileHandle, text: string, attempt: WriteAttempt): Promise<void> {
    const buf = Buffer.from(text)
    attempt.bytes = buf
    attempt.written = 0
    while (attempt.written < buf.length) {
      const { bytesWritten } = await fh.write(buf, attempt.written, buf.length - attempt.written)
      if (bytesWritten === 0) throw new Error('the write made no progress')
      attempt.written += bytesWritten
    }
  }

  async #closeWriter (): Promise<void> {
    const w = this.#writer
    this.#writer = null
    await w?.fh.close().catch(() => {})
  }

  /**
   * An import: records already stored with the same reason and date are skipped
   * (read after a refresh); each new or changed one is appended with its operator
   * log line. Returns how many were written.
   */
  async revokeMany (records: readonly RevokedRecord[], onProgress?: (done: number, total: number) => void, act?: OperatorAct): Promise<number> {
    const BATCH = 5000
    let written = 0
    await this.#refreshAfterNow()
    for (let i = 0; i < records.length; i += BATCH) {
      const chunk = records.slice(i, i + BATCH).filter((r) => !sameRevocation(this.#storedRevocation(r), r))
      if (chunk.length > 0) {
        await this.#append(chunk.map((r) => encodeRevoked(r) + encodeOpLine({
          action: 'revoke', target: 'fingerprint' in r ? { fingerprint: r.fingerprint } : { issuer: r.issuer, serial: r.serial }, by: act?.by ?? '', at: r.revokedAt, reason: r.reason, note: act?.note ?? '',
        })).join(''))
      }
      written += chunk.length
      onProgress?.(Math.min(i + BATCH, records.length), records.length)
    }
    return written
  }

  #storedRevocation (r: RevocationTarget): RevokedRecord | null {
    return 'fingerprint' in r ? this.#byFingerprint.get(r.fingerprint) ?? null : this.#lookupSerial(r.issuer, r.serial)
  }

  async list (): Promise<RevokedRecord[]> {
    await this.#refreshAfterNow()
    return [...this.#byFingerprint.values(), ...this.#bySerial.values()]
  }

  async registryGet (vin: string): Promise<Record<string, RegistryRecord>> {
    await this.#readyFor(false, () => false)
    return Object.fromEntries(this.#registry.get(vin) ?? [])
  }

  async registrySet (vin: string, fingerprint: string, record: RegistryRecord): Promise<void> {
    await this.#append(encodeRegistryLine(vin, fingerprint, record))
  }

  async markActive (vin: string, fingerprint: string): Promise<boolean> {
    await this.#readyFor(false, () => this.#registry.get(vin)?.get(fingerprint) === undefined)
    const current = this.#registry.get(vin)?.get(fingerprint)
    if (!current || current.state !== 'issued') return false
    await this.#append(encodeRegistryLine(vin, fingerprint, { ...current, state: 'active' }, true))
    return true
  }

  /** receive the file's events, and start tailing it; returns the unsubscribe */
  subscribe (onEvent: (event: StoreEvent) => void): () => void {
    this.#listeners.push(onEvent)
    this.#startWatching()
    return () => { this.#listeners = this.#listeners.filter((l) => l !== onEvent) }
  }

  #startWatching (): void {
    if (this.#watcher || this.#poll || this.#closed) return
    try {
      // the directory: the file may not exist yet
      this.#watcher = watch(this.#opts.dataDir, { persistent: false }, (_type, name) => {
        if (name === null || String(name) === STORE_FILE) void this.refresh().catch(() => {})
      })
      this.#watcher.on('error', () => { this.#watcher?.close(); this.#watcher = null })
    } catch {
      this.#watcher = null // the poll below still works
    }
    this.#poll = setInterval(() => { void this.refresh().catch(() => {}) }, this.#opts.pollMs ?? 250)
    this.#poll.unref()
  }

  async #close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#watcher?.close(); this.#watcher = null
    if (this.#poll) clearInterval(this.#poll)
    this.#listeners = []
    await this.#appending
    await this.#refreshing?.catch(() => {})
    await this.#closeReader()
    await this.#closeWriter()
  }
}

function stateKey (t: RevocationTarget): string {
  return 'fingerprint' in t ? `fp:${t.fingerprint}` : `sn:${t.issuer}:${t.serial}`
}

/** the file's stat, or undefined when it cannot be read (absent) */
function statOf (path: string): Stats | undefined {
  try { return statSync(path, { throwIfNoEntry: false }) } catch { return undefined }
}

async function syncDir (dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r')
    try { await fh.sync() } finally { await fh.close() }
  } catch { /* not every platform can fsync a directory */ }
}

/** what one append wrote before it failed */
interface WriteAttempt { bytes: Buffer; written: number }

/**
 * Undo a failed append: truncate the file back to its size before it, when its
 * last bytes are still ours. When another process appended after them they stay,
 * a torn line that readers skip (parseChunk). Shrinking a file needs no free space.
 */
async function undoAppend (fh: FileHandle, ours: Buffer): Promise<boolean> {
  try {
    const size = (await fh.stat()).size
    const start = size - ours.length
    if (start < 0) return false
    const tail = Buffer.alloc(ours.length)
    const { bytesRead } = await fh.read(tail, 0, ours.length, start)
    if (bytesRead !== ours.length || !tail.equals(ours)) return false
    await fh.truncate(start)
    await fh.datasync()
    return true
  } catch {
    return false
  }
}

function writeError (path: string, err: unknown, attempt: WriteAttempt, undone: boolean): Error {
  const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message
  const partial = attempt.written === 0
    ? ''
    : undone
      ? ` (${attempt.written} of ${attempt.bytes.length} bytes had been written: removed)`
      : ` (${attempt.written} of ${attempt.bytes.length} bytes written could not be removed: a torn line, which readers skip)`
  return fgError('FG_ERR_STORE_WRITE', `${path}: cannot append (${why}${why === 'ENOSPC' ? ': no space left on device' : ''}): nothing was stored${partial}`, err)
}

/** newlines in buf before offset (an error message's line number) */
function countLines (buf: Buffer, offset: number): number {
  let n = 0
  for (let i = buf.indexOf(0x0a); i !== -1 && i < offset; i = buf.indexOf(0x0a, i + 1)) n++
  return n
}

function sameRevocation (stored: RevokedRecord | null, r: RevokedRecord): boolean {
  return stored !== null && stored.reason === r.reason && stored.revokedAt === r.revokedAt
}
