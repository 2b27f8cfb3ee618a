// The provisioner's own state beside the registry: nonces it answered (so a
// QoS 1 redelivery is not a second issuance), the per-VIN rate limit, and the
// retirements due after --grace. Two implementations: Redis (redis-state.ts)
// and the embedded one here (memory, nonces and retirements also in a JSON
// file under --data-dir; the rate limit is in memory only: one embedded
// provisioner process, and a restart forgets at most one window).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { IssuedResponse } from './messages.js'

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

export const STATE_FILE = 'provisioner-state.json'

interface FileShape {
  readonly version: 1
  /** vin -> nonce -> [expiresAt, response] */
  readonly nonces: Record<string, Record<string, [number, IssuedResponse]>>
  /** "vin|fingerprint" -> dueAt */
  readonly retirements: Record<string, number>
}

/** The embedded state: in memory, nonces and retirements written through to <dataDir>/provisioner-state.json. */
export class FileProvisionerState implements ProvisionerState {
  readonly kind = 'file' as const
  readonly #path: string
  readonly #nonces = new Map<string, Map<string, [number, IssuedResponse]>>()
  readonly #retirements = new Map<string, number>()
  readonly #windows = new Map<string, { start: number; count: number }>()
  readonly #now: () => number

  constructor (dataDir: string, now: () => number = Date.now) {
    this.#path = join(dataDir, STATE_FILE)
    this.#now = now
    let shape: FileShape | null = null
    try {
      shape = JSON.parse(readFileSync(this.#path, 'utf8')) as FileShape
    } catch {
      shape = null // absent or unreadable: start empty (the registry and revocations live in the store)
    }
    const t = now()
    for (const [vin, m] of Object.entries(shape?.nonces ?? {})) {
      const live = new Map(Object.entries(m).filter(([, v]) => Array.isArray(v) && v[0] > t))
      if (live.size > 0) this.#nonces.set(vin, live)
    }
    for (const [k, due] of Object.entries(shape?.retirements ?? {})) if (typeof due === 'number') this.#retirements.set(k, due)
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
    this.#save()
  }

  async scheduleRetirement (items: readonly Retirement[], dueAt: number): Promise<void> {
    if (items.length === 0) return
    for (const r of items) this.#retirements.set(`${r.vin}|${r.fingerprint}`, dueAt)
    this.#save()
  }

  async cancelRetirement (items: readonly Retirement[]): Promise<void> {
    let changed = false
    for (const r of items) changed = this.#retirements.delete(`${r.vin}|${r.fingerprint}`) || changed
    if (changed) this.#save()
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

  /** write a temporary file, fsync, rename: a crash leaves the old or the new file, never half of one */
  #save (): void {
    const t = this.#now()
    const nonces: FileShape['nonces'] = {}
    for (const [vin, m] of this.#nonces) {
      const live = [...m].filter(([, v]) => v[0] > t)
      if (live.length > 0) nonces[vin] = Object.fromEntries(live)
    }
    const shape: FileShape = { version: 1, nonces, retirements: Object.fromEntries(this.#retirements) }
    const tmp = `${this.#path}.${process.pid}.tmp`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, JSON.stringify(shape))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, this.#path)
  }

  async close (): Promise<void> {}
}
