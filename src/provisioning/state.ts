// The provisioner's own state beside the registry: nonces it answered (so a
// QoS 1 redelivery is not a second issuance), the per-VIN rate limit, and the
// retirements due after --grace. Two implementations: Redis (redis-state.ts)
// and the embedded one here: memory, with nonces and retirements also in an
// append-only journal under --data-dir (the rate limit is in memory only: one
// embedded provisioner process, and a restart forgets at most one window).
//
// The journal is written with group commit: records of concurrent requests
// share one write + fsync, off the event loop, and each caller resumes once
// its record is durable. (Rewriting a whole state file per request, fsync'd
// on the event loop, made the provisioner the bottleneck of a provisioning
// storm: its cost grew with every certificate issued.) It is compacted when
// loaded.
import { readFileSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { IssuedResponse } from './messages.js'
import { writeFileAtomic } from './atomic-file.js'

/** how long an answered nonce is remembered */
export const NONCE_TTL_MS = 24 * 3_600_000

export type Admission =
  /** the nonce was answered before: send this again, count nothing */
  | { readonly replay: IssuedResponse }
  /** a new request: the VIN's request count in the current window, this one included */
  | { readonly count: number }

export interface Retirement {
  readonly vin: string
  readonly fingerprint: string
}

export interface ProvisionerState {
  readonly kind: 'redis' | 'file'
  /** replay lookup, then (not a replay) count one request against the VIN's window */
  admit (vin: string, nonce: string, windowMs: number): Promise<Admission>
  remember (vin: string, nonce: string, response: IssuedResponse): Promise<void>
  scheduleRetirement (items: readonly Retirement[], dueAt: number): Promise<void>
  cancelRetirement (items: readonly Retirement[]): Promise<void>
  /** retirements due at `now` (still scheduled until cancelled) */
  dueRetirements (now: number): Promise<Retirement[]>
  close (): Promise<void>
}

export const STATE_FILE = 'provisioner-state.jsonl'

type JournalRecord =
  | { readonly t: 'nonce'; readonly vin: string; readonly nonce: string; readonly exp: number; readonly response: IssuedResponse }
  | { readonly t: 'retire'; readonly key: string; readonly due: number }
  | { readonly t: 'cancel'; readonly key: string }

export class FileProvisionerState implements ProvisionerState {
  readonly kind = 'file' as const
  readonly #path: string
  readonly #nonces = new Map<string, Map<string, [number, IssuedResponse]>>()
  readonly #retirements = new Map<string, number>()
  readonly #windows = new Map<string, { start: number; count: number }>()
  readonly #now: () => number
  #file: Promise<FileHandle> | undefined
  #pending: string[] = []
  #waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }> = []
  #flushing: Promise<void> | undefined

  constructor (dataDir: string, now: () => number = Date.now) {
    this.#path = join(dataDir, STATE_FILE)
    this.#now = now
    const t = now()
    let text = ''
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
    this.#file ??= open(this.#path, 'a', 0o600)
    while (this.#pending.length > 0) {
      const text = this.#pending.join('')
      const waiters = this.#waiters
      this.#pending = []
      this.#waiters = []
      try {
        const fh = await this.#file
        await fh.appendFile(text)
        await fh.datasync()
        for (const w of waiters) w.resolve()
      } catch (err) {
        for (const w of waiters) w.reject(err)
      }
    }
    this.#flushing = undefined
  }

  async admit (vin: string, nonce: string, windowMs: number): Promise<Admission> {
    const t = this.#now()
    const hit = this.#nonces.get(vin)?.get(nonce)
    if (hit !== undefined && hit[0] > t) return { replay: hit[1] }
    let w = this.#windows.get(vin)
    if (w === undefined || t - w.start >= windowMs) {
      w = { start: t, count: 0 }
      this.#windows.set(vin, w)
      if (this.#windows.size > 100_000) this.#pruneWindows(t, windowMs)
    }
    w.count++
    return { count: w.count }
  }

  #pruneWindows (t: number, windowMs: number): void {
    for (const [vin, w] of this.#windows) if (t - w.start >= windowMs) this.#windows.delete(vin)
  }

  async remember (vin: string, nonce: string, response: IssuedResponse): Promise<void> {
    const t = this.#now()
    let m = this.#nonces.get(vin)
    if (m === undefined) this.#nonces.set(vin, (m = new Map()))
    for (const [n, v] of m) if (v[0] <= t) m.delete(n)
    m.set(nonce, [t + NONCE_TTL_MS, response])
    await this.#append([{ t: 'nonce', vin, nonce, exp: t + NONCE_TTL_MS, response }])
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
  }
}
