// Certificate expiry tracking of live sessions (README "Certificate expiry"): the
// memory and CPU of tracking 100,000 sessions' notAfter, at the data-structure
// level, side by side in one run:
//   fleetgate: ExpiryBuckets (sessions bucketed by expiry second, a heap of the
//              seconds, one armed timer)
//   baseline:  one setTimeout per session (capped at setTimeout's ~24.8 day limit,
//              as a naive implementation must), kept in a Map for clearTimeout on disconnect
// insert: track N sessions whose notAfter is spread over a year (N distinct seconds);
// remove: N/2 of them disconnect; fire: N sessions whose notAfter falls within the
// next ~2 s, CPU of the process from the last insert until every one was handed over.
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import type { BenchSection } from './types.js'
import { round } from './lib/stats.js'
import { ExpiryBuckets } from '../src/index.js'

const log = (line: string) => process.stderr.write(line + '\n')
const YEAR_MS = 365 * 86_400_000
const MAX_TIMER_MS = 2_147_483_647

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** What both implementations offer the bench: track, untrack, and a callback per expired handle. */
interface Tracker {
  add (handle: object, expiresAt: number): void
  delete (handle: object): void
  stop (): void
}

function buckets (onExpire: (h: object) => void): Tracker {
  const b = new ExpiryBuckets<object>((handles) => { for (const h of handles) onExpire(h) })
  return { add: (h, at) => b.add(h, at), delete: (h) => { b.delete(h) }, stop: () => b.stop() }
}

function perSessionTimers (onExpire: (h: object) => void): Tracker {
  const timers = new Map<object, NodeJS.Timeout>()
  const arm = (h: object, at: number): void => {
    const t = setTimeout(() => {
      if (at > Date.now()) return arm(h, at) // the cap: re-arm on the way
      timers.delete(h)
      onExpire(h)
    }, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS))
    t.unref()
    timers.set(h, t)
  }
  return {
    add: arm,
    delete: (h) => { const t = timers.get(h); if (t) { clearTimeout(t); timers.delete(h) } },
    stop: () => { for (const t of timers.values()) clearTimeout(t); timers.clear() },
  }
}

const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }

interface Figures { heapPerSession: number; insertMs: number; removeMs: number; fireMs: number; fireWallMs: number }

async function measure (make: (onExpire: (h: object) => void) => Tracker, n: number): Promise<Figures> {
  // memory and insert/remove: notAfters spread over a year
  const handles = Array.from({ length: n }, () => ({}))
  const now = Date.now()
  const expiries = handles.map((_, i) => now + 86_400_000 + Math.floor((i / n) * YEAR_MS))
  gc(); gc()
  const heap0 = process.memoryUsage().heapUsed
  let t = make(() => {})
  let c0 = cpuMs()
  for (let i = 0; i < n; i++) t.add(handles[i]!, expiries[i]!)
  const insertMs = cpuMs() - c0
  gc(); gc()
  const heapPerSession = (process.memoryUsage().heapUsed - heap0) / n
  c0 = cpuMs()
  for (let i = 0; i < n; i += 2) t.delete(handles[i]!)
  const removeMs = cpuMs() - c0
  t.stop()
  // fire: notAfters within the next 1-2 s
  let left = n
  let done!: () => void
  const all = new Promise<void>((resolve) => { done = resolve })
  t = make(() => { if (--left === 0) done() })
  const base = Date.now() + 1000
  for (let i = 0; i < n; i++) t.add(handles[i]!, base + Math.floor((i / n) * 1000))
  c0 = cpuMs()
  const w0 = Date.now()
  const keepAlive = setInterval(() => {}, 1000) // both trackers' timers are unref'd, as in the broker
  await all
  clearInterval(keepAlive)
  const fireMs = cpuMs() - c0
  const fireWallMs = Date.now() - w0
  t.stop()
  return { heapPerSession, insertMs, removeMs, fireMs, fireWallMs }
}

export async function run (opts: { quick: boolean }): Promise<BenchSection> {
  const n = opts.quick ? 20_000 : 100_000
  // alternate rounds, keep the best of each (least disturbed by the other users of the machine)
  const rounds = opts.quick ? 1 : 3
  const best = (a: Figures | undefined, b: Figures): Figures => a === undefined
    ? b
    : { heapPerSession: Math.min(a.heapPerSession, b.heapPerSession), insertMs: Math.min(a.insertMs, b.insertMs), removeMs: Math.min(a.removeMs, b.removeMs), fireMs: Math.min(a.fireMs, b.fireMs), fireWallMs: Math.min(a.fireWallMs, b.fireWallMs) }
  let fg: Figures | undefined
  let base: Figures | undefined
  for (let r = 0; r < rounds; r++) {
    fg = best(fg, await measure(buckets, n))
    base = best(base, await measure(perSessionTimers, n))
    log(`bench: expiry round ${r + 1}/${rounds}: buckets ${JSON.stringify(fg)} timers ${JSON.stringify(base)}`)
  }
  const k = n.toLocaleString('en')
  return {
    title: `certificate expiry tracking, ${k} sessions (ExpiryBuckets vs one setTimeout per session)`,
    rows: [
      { metric: 'heap per tracked session', fleetgate: round(fg!.heapPerSession, 0), baseline: round(base!.heapPerSession, 0), unit: 'B', target: '<= 1x' },
      { metric: `CPU to track ${k}`, fleetgate: round(fg!.insertMs, 1), baseline: round(base!.insertMs, 1), unit: 'ms', target: '<= 1x' },
      { metric: `CPU to untrack ${(n / 2).toLocaleString('en')}`, fleetgate: round(fg!.removeMs, 1), baseline: round(base!.removeMs, 1), unit: 'ms' },
      { metric: `CPU to expire ${k} (notAfters within 1 s)`, fleetgate: round(fg!.fireMs, 1), baseline: round(base!.fireMs, 1), unit: 'ms', target: '<= 1x' },
    ],
    notes: [
      'pure data-structure level: no TLS, no MQTT; the handles are plain objects; both in this process, alternating rounds, best of each',
      `expire: the last handle handed over ${fg!.fireWallMs} ms (buckets) and ${base!.fireWallMs} ms (timers) after the last insert`,
    ],
  }
}
