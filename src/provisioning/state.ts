// The provisioner's own state beside the registry (the port:
// src/stores/provisioner-state.ts): nonces it answered and the ones being
// answered now, the per-VIN, per-channel rate limit, and the retirements due
// after --grace. Two implementations: Redis (redis-state.ts) and the embedded
// one here: memory, with answered nonces and retirements also in an
// append-only journal under --data-dir (claims and the rate limit are in
// memory only: one embedded provisioner per data dir, held by a lock file, and
// a restart forgets at most one window).
//
// The journal is written with group commit: records of concurrent requests
// share one write (O_DSYNC, else write + fdatasync), off the event loop, and
// each caller resumes once its record is durable. (Rewriting a whole state file per request, fsync'd
// on the event loop, made the provisioner the bottleneck of a provisioning
// storm: its cost grew with every certificate issued.) It is compacted when
// loaded.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { fgError } from '../contract/errors.js'
import { DSYNC, durableAppendFlags } from '../stores/durable-append.js'
import type { Claim as StateClaim, CountedClaim as StateCountedClaim, ProvisionerState as StatePort, Retirement } from '../stores/provisioner-state.js'
import type { Channel, IssuedResponse } from './messages.js'
import { writeFileAtomic } from './atomic-file.js'

/** how long an answered nonce is remembered */
export const NONCE_TTL_MS = 24 * 3_600_000
/** how long a claim holds when its holder never answers nor releases it (a crash): then a retry may claim it */
export const CLAIM_LEASE_MS = 60_000

/** the provisioner's state port (src/stores/provisioner-state.ts), its answers being provisioning responses */
export type ProvisionerState = StatePort<IssuedResponse>
export type Claim = StateClaim<IssuedResponse>
export type CountedClaim = StateCountedClaim<IssuedResponse>
export type { Retirement }

export const STATE_FILE = 'provisioner-state.jsonl'
/** one embedded provisioner per data dir: its pid (two would each issue for the same request) */
export const LOCK_FILE = 'provisioner.lock'

function pidAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** take <dataDir>/provisioner.lock (O_EXCL); a lock left by a process that is gone is taken over */
function takeLock (path: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      try { writeSync(fd, `${process.pid}\n`) } finally { closeSync(fd) }
      return
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fgError('FG_ERR_CONFIG_INVALID', `--data-dir: ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err)
    }
    let pid = NaN
    try { pid = Number(readFileSync(path, 'utf8').trim()) } catch { /* gone meanwhile: try again */ }
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) {
      throw fgError('FG_ERR_CONFIG_INVALID', `--data-dir: another provisioner (pid ${pid}) uses ${path}; several provisioners need --redis`)
    }
    try { unlinkSync(path) } catch { /* taken over by another: the next attempt says so */ }
  }
  throw fgError('FG_ERR_CONFIG_INVALID', `--data-dir: ${path} is held by another provisioner`)
}

type JournalRecord =
  | { readonly t: 'nonce'; readonly vin: string; readonly nonce: string; readonly exp: number; readonly response: IssuedResponse }
  | { readonly t: 'retire'; readonly key: string; readonly due: number }
  | { readonly t: 'cancel'; readonly key: string }

export class FileProvisionerState implements ProvisionerState {
  readonly kind = 'file' as const
  readonly #path: string
  readonly #lock: string
  readonly #claims = new Set<string>()
  readonly #nonces = new Map<string, Map<string, [number, IssuedResponse]>>()
  readonly #retirements = new Map<string, number>()
  readonly #windows = new Map<string, { start: number; count: number }>()
  readonly #now: () => number
  #file: Promise<FileHandle> | undefined
  #pending: string[] = []
  #waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  #flushing: Promise<void> | undefined
  #closed = false

  constructor (dataDir: string, now: () => number = Date.now) {
    this.#path = join(dataDir, STATE_FILE)
    this.#lock = join(dataDir, LOCK_FILE)
    this.#now = now
    takeLock(this.#lock)
    const t = now()
    let text: string
    try { text = readFileSync(this.#path, 'utf8') } catch { text = '' } // absent: start empty (the registry and revocations live in the store)
    for (const line of text.split('\n')) {
      if (line === '') continue
      let r: JournalRecord
      try { r = JSON.parse(line) as JournalRecord } catch { continue } // a torn last line after a crash
      if (r.t === 'nonce' && r.exp > t) {
        let m = this.#nonces.get(r.vin)
        if (m === undefined) this.#nonces.set(r.vin, (m = new Map()))
        m.set(r.nonce, [r.exp, r.response])
      } else if (r.t === 'retire') this.#retirements.set(r.key, r.due)
      else if (r.t === 'cancel') this.#retirements.delete(r.key)
    }
    this.#compact()
  }

  /** rewrite the journal with the live records only (at load: the file never grows without bound across restarts) */
  #compact (): void {
    const lines: string[] = []
    for (const [vin, m] of this.#nonces) for (const [nonce, [exp, response]] of m) lines.push(JSON.stringify({ t: 'nonce', vin, nonce, exp, response }))
    for (const [key, due] of this.#retirements) lines.push(JSON.stringify({ t: 'retire', key, due }))
    writeFileAtomic(this.#path, lines.length > 0 ? lines.join('\n') + '\n' : '', 0o600, `${this.#path}.${process.pid}.tmp`)
  }

  /** append records; resolves once they are on disk (one write + fsync for everything queued meanwhile) */
  #append (records: readonly JournalRecord[]): Promise<void> {
    for (const r of records) this.#pending.push(JSON.stringify(r) + '\n')
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }))
    this.#flushing ??= this.#flush()
    return done
  }

  async #flush (): Promise<void> {
    // O_DSYNC where there is one: each write is on disk when it returns (no fdatasync after it)
    this.#file ??= open(this.#path, durableAppendFlags(false), 0o600)
    while (this.#pending.length > 0) {
      const text = this.#pending.join('')
      const waiters = this.#waiters
      this.#pending = []
      this.#waiters = []
      try {
        const fh = await this.#file
        await fh.appendFile(text)
        if (DSYNC === 0) await fh.datasync()
        for (const w of waiters) w.resolve()
      } catch (err) {
        for (const w of waiters) w.reject(err)
      }
    }
    this.#flushing = undefined
  }

  async claim (vin: string, nonce: string): Promise<Claim> {
    const hit = this.#nonces.get(vin)?.get(nonce)
    if (hit !== undefined && hit[0] > this.#now()) return { kind: 'replay', response: hit[1] }
    const key = `${vin}|${nonce}`
    if (this.#claims.has(key)) return { kind: 'busy' }
    this.#claims.add(key)
    return { kind: 'claimed' }
  }

  async claimCounted (vin: string, nonce: string, channel: Channel, windowMs: number): Promise<CountedClaim> {
    const claim = await this.claim(vin, nonce)
    return claim.kind === 'claimed' ? { kind: 'claimed', count: await this.count(channel, vin, windowMs) } : claim
  }

  async count (channel: Channel, vin: string, windowMs: number): Promise<number> {
    const t = this.#now()
    const key = `${channel}|${vin}`
    let w = this.#windows.get(key)
    if (w === undefined || t - w.start >= windowMs) {
      w = { start: t, count: 0 }
      this.#windows.set(key, w)
      if (this.#windows.size > 100_000) this.#pruneWindows(t, windowMs)
    }
    w.count++
    return w.count
  }

  #pruneWindows (t: number, windowMs: number): void {
    for (const [key, w] of this.#windows) if (t - w.start >= windowMs) this.#windows.delete(key)
  }

  async remember (vin: string, nonce: string, response: IssuedResponse): Promise<void> {
    const t = this.#now()
    let m = this.#nonces.get(vin)
    if (m === undefined) this.#nonces.set(vin, (m = new Map()))
    for (const [n, v] of m) if (v[0] <= t) m.delete(n)
    m.set(nonce, [t + NONCE_TTL_MS, response])
    // answered in memory at once (a redelivery waiting on the claim replays it), durable before this resolves
    this.#claims.delete(`${vin}|${nonce}`)
    await this.#append([{ t: 'nonce', vin, nonce, exp: t + NONCE_TTL_MS, response }])
  }

  async release (vin: string, nonce: string): Promise<void> {
    this.#claims.delete(`${vin}|${nonce}`)
  }

  async scheduleRetirement (items: readonly Retirement[], dueAt: number): Promise<void> {
    if (items.length === 0) return
    const records: JournalRecord[] = []
    for (const r of items) {
      const key = `${r.vin}|${r.fingerprint}`
      this.#retirements.set(key, dueAt)
      records.push({ t: 'retire', key, due: dueAt })
    }
    await this.#append(records)
  }

  async cancelRetirement (items: readonly Retirement[]): Promise<void> {
    const records: JournalRecord[] = []
    for (const r of items) {
      const key = `${r.vin}|${r.fingerprint}`
      if (this.#retirements.delete(key)) records.push({ t: 'cancel', key })
    }
    if (records.length > 0) await this.#append(records)
  }

  async dueRetirements (now: number): Promise<Retirement[]> {
    const out: Retirement[] = []
    for (const [k, due] of this.#retirements) {
      if (due > now) continue
      const [vin, fingerprint] = k.split('|') as [string, string]
      out.push({ vin, fingerprint })
    }
    return out
  }

  async close (): Promise<void> {
    await this.#flushing
    if (this.#file) await (await this.#file).close()
    this.#file = undefined
    if (this.#closed) return
    this.#closed = true
    try { if (readFileSync(this.#lock, 'utf8').trim() === String(process.pid)) unlinkSync(this.#lock) } catch { /* already gone */ }
  }
}
