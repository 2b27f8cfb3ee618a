// Certificate expiry of live sessions (README "Certificate expiry"): a session
// ends when the notAfter of its leaf, or of any CA above it, passes (cert_expired,
// through the LiveSessions port like a revocation: its Will is dropped), and a
// certificate close to its notAfter is audited once per connect (cert.expiring).
//
// No timer per session: sessions are bucketed by the second their chain expires
// (a Map of Sets), the distinct seconds sit in a min-heap, and one timer is armed
// for the earliest. Removal is O(1) (handle -> second, then the bucket's Set).
// An emptied bucket's second stays in the heap until it reaches the top or the
// heap is rebuilt (when it holds more than twice the live buckets): memory stays
// proportional to the live sessions under any connect/disconnect churn.
import type { Identity } from '../identity/index.js'
import type { AuditLogger } from '../audit/index.js'
import { identityFields } from '../audit/index.js'
import type { LiveSessions } from '../contract/live-sessions.js'

/** setTimeout's largest delay (2^31 - 1 ms, about 24.8 days): a later expiry re-arms on the way */
export const MAX_TIMER_MS = 2_147_483_647
const DAY_MS = 86_400_000

/** The clock and timer the buckets run on (tests and the bench may pass their own). */
export interface ExpiryClock {
  now (): number
  setTimer (fn: () => void, ms: number): unknown
  clearTimer (timer: unknown): void
}

const REAL_CLOCK: ExpiryClock = {
  now: Date.now,
  setTimer: (fn, ms) => { const t = setTimeout(fn, ms); t.unref(); return t },
  clearTimer: (t) => clearTimeout(t as NodeJS.Timeout),
}

/**
 * Handles (objects, never a Set) bucketed by their expiry second; `onExpire` gets each due bucket's
 * handles once their second has passed (at (second + 1) s: X.509 times have
 * whole seconds, and a certificate is valid through its notAfter).
 */
export class ExpiryBuckets<H> {
  /** one handle, or a Set when several share the second (most certificates have a second of their own: no Set each) */
  readonly #buckets = new Map<number, H | Set<H>>()
  readonly #secondOf = new Map<H, number>()
  /** distinct seconds, a binary min-heap; may hold seconds whose bucket emptied (skipped when they surface) */
  #heap: number[] = []
  #timer: unknown = null
  #armedFor: number | null = null
  #stopped = false
  readonly #onExpire: (handles: H[], second: number) => void
  readonly #clock: ExpiryClock

  constructor (onExpire: (handles: H[], second: number) => void, clock: ExpiryClock = REAL_CLOCK) {
    this.#onExpire = onExpire
    this.#clock = clock
  }

  /** track `handle` until `expiresAt` (ms); a handle already tracked moves */
  add (handle: H, expiresAt: number): void {
    const second = Math.floor(expiresAt / 1000)
    const before = this.#secondOf.get(handle)
    if (before === second) return
    if (before !== undefined) this.#take(handle, before)
    this.#secondOf.set(handle, second)
    const bucket = this.#buckets.get(second)
    if (bucket === undefined) {
      this.#buckets.set(second, handle)
      this.#push(second)
      if (this.#heap.length > 2 * this.#buckets.size + 1024) this.#rebuild()
    } else if (bucket instanceof Set) bucket.add(handle)
    else this.#buckets.set(second, new Set([bucket, handle]))
    if (this.#armedFor === null || second < this.#armedFor) this.#arm()
  }

  /** stop tracking `handle` (it disconnected); O(1) */
  delete (handle: H): boolean {
    const second = this.#secondOf.get(handle)
    if (second === undefined) return false
    this.#secondOf.delete(handle)
    this.#take(handle, second)
    return true
  }

  #take (handle: H, second: number): void {
    const bucket = this.#buckets.get(second)
    if (bucket === handle) this.#buckets.delete(second) // its heap entry goes when it surfaces
    else if (bucket instanceof Set) {
      bucket.delete(handle)
      if (bucket.size === 1) this.#buckets.set(second, bucket.values().next().value!)
    }
  }

  get size (): number { return this.#secondOf.size }
  /** live buckets, and heap entries (live + emptied): for the bench and tests */
  get buckets (): number { return this.#buckets.size }
  get heapSize (): number { return this.#heap.length }
  /** the second the timer is armed for, or null */
  get armedFor (): number | null { return this.#armedFor }

  /** Hand every bucket whose second has passed at `now` to onExpire; the number of handles. */
  expireDue (now = this.#clock.now()): number {
    let n = 0
    for (;;) {
      const second = this.#top()
      if (second === undefined || (second + 1) * 1000 > now) break
      this.#pop()
      const bucket = this.#buckets.get(second)
      if (bucket === undefined) continue
      this.#buckets.delete(second)
      const handles = bucket instanceof Set ? [...bucket] : [bucket]
      for (const h of handles) this.#secondOf.delete(h)
      n += handles.length
      this.#onExpire(handles, second)
    }
    return n
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer)
    this.#timer = null
    this.#armedFor = null
  }

  /** one timer, for the earliest live bucket; re-armed on the way when it is more than MAX_TIMER_MS away */
  #arm (): void {
    if (this.#stopped) return
    const second = this.#top()
    if (second === this.#armedFor && this.#timer !== null) return
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer)
    this.#timer = null
    this.#armedFor = second ?? null
    if (second === undefined) return
    const delay = Math.min(Math.max(0, (second + 1) * 1000 - this.#clock.now()), MAX_TIMER_MS)
    this.#timer = this.#clock.setTimer(() => this.#fire(), delay)
  }

  #fire (): void {
    this.#timer = null
    this.#armedFor = null
    try { this.expireDue() } finally { this.#arm() }
  }

  /** the earliest second with a live bucket (emptied ones at the top are dropped) */
  #top (): number | undefined {
    while (this.#heap.length > 0 && !this.#buckets.has(this.#heap[0]!)) this.#pop()
    return this.#heap[0]
  }

  #rebuild (): void {
    this.#heap = [...this.#buckets.keys()].sort((a, b) => a - b) // a sorted array is a heap
  }

  #push (v: number): void {
    const h = this.#heap
    let i = h.push(v) - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p]! <= v) break
      h[i] = h[p]!
      i = p
    }
    h[i] = v
  }

  #pop (): void {
    const h = this.#heap
    const last = h.pop()!
    if (h.length === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const r = l + 1
      const c = r < h.length && h[r]! < h[l]! ? r : l
      if (h[c]! >= last) break
      h[i] = h[c]!
      i = c
    }
    h[i] = last
  }
}

/** The certificate of a chain that expires first: the leaf or one of its CAs. */
export interface FirstExpiry {
  readonly at: number
  readonly which: 'leaf' | 'ca'
  /** the CA's subject CN or fingerprint prefix; the leaf's CN */
  readonly name: string
}

const firstExpiries = new WeakMap<Identity, FirstExpiry>()

export function firstExpiryOf (identity: Identity): FirstExpiry {
  let f = firstExpiries.get(identity)
  if (f !== undefined) return f
  f = { at: identity.notAfter.getTime(), which: 'leaf', name: identity.subject.CN?.[0] ?? identity.fingerprint.slice(0, 16) }
  for (const ca of identity.chain) {
    const at = ca.notAfter?.getTime()
    if (at !== undefined && at < f.at) f = { at, which: 'ca', name: ca.subject.CN?.[0] ?? ca.fingerprint.slice(0, 16) }
  }
  firstExpiries.set(identity, f)
  return f
}

export interface ExpiryGuardOptions<H> {
  readonly sessions: LiveSessions<H>
  readonly log: AuditLogger
  /** --expiry-warning: a chain expiring within this is audited cert.expiring at connect; 0: never */
  readonly warningMs: number
  /** counts each cert.expiring (the leaf or a CA) */
  readonly onExpiring?: (which: 'leaf' | 'ca') => void
  readonly clock?: ExpiryClock
}

/**
 * The live side of certificate validity: `track` each admitted session, `untrack`
 * it when its connection closes; an expired one is ended (cert_expired, Will dropped).
 */
export class ExpiryGuard<H = unknown> {
  readonly buckets: ExpiryBuckets<H>
  readonly #o: ExpiryGuardOptions<H>
  readonly #now: () => number

  constructor (opts: ExpiryGuardOptions<H>) {
    this.#o = opts
    this.#now = opts.clock?.now ?? Date.now
    this.buckets = new ExpiryBuckets<H>((handles) => this.#expire(handles), opts.clock)
  }

  /** an admitted session: tracked until its chain's first notAfter; cert.expiring when that is within --expiry-warning */
  track (handle: H, identity: Identity): void {
    const first = firstExpiryOf(identity)
    this.buckets.add(handle, first.at)
    const left = first.at - this.#now()
    if (this.#o.warningMs > 0 && left <= this.#o.warningMs) {
      this.#o.log.warn({
        evt: 'cert.expiring', which: first.which, name: first.name, notAfter: new Date(first.at).toISOString(),
        daysLeft: Math.max(0, Math.floor(left / DAY_MS)), cert: identityFields(identity),
      }, first.which === 'leaf' ? 'client certificate expires soon' : 'a CA of the client certificate expires soon')
      this.#o.onExpiring?.(first.which)
    }
  }

  untrack (handle: H): void { this.buckets.delete(handle) }

  #expire (handles: H[]): void {
    for (const h of handles) {
      const s = this.#o.sessions.get(h)
      if (s === undefined || s.endedFor !== undefined) continue
      const first = firstExpiryOf(s.identity)
      this.#o.sessions.end(h, {
        evt: 'expiry.kick', reason: 'cert_expired', message: 'certificate expired: session closed',
        audit: { which: first.which, name: first.name, notAfter: new Date(first.at).toISOString(), cert: identityFields(s.identity) },
      })
    }
  }

  stop (): void { this.buckets.stop() }
}
