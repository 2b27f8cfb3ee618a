// --session-expiry: a persistent session not resumed within it is removed with
// its queue and subscriptions. MQTT 3.1.1 has no session expiry field: this is
// the broker's rule (as EMQX's session_expiry_interval for 3.1.1 clients).
//
// The clock (types.ts SessionClock) says when each session was last known live:
// at CONNECT, at disconnect, and for every live session at each sweep, so a node
// that dies leaves its sessions' last sweep time behind. Sessions the clock has
// never seen (stored before this release, queues without a session) start their
// clock when a sweep discovers them. Claiming an expired session is atomic, so
// with several nodes on one Redis each session is removed by one of them.

export interface ExpiryDeps {
  readonly clock: import('./types.js').SessionClock
  readonly expiryMs: number
  /** persistent sessions live on this node */
  readonly liveIds: () => string[]
  readonly isLive: (clientId: string) => boolean
  readonly remove: (clientId: string) => Promise<void>
  readonly expired: (clientId: string) => void
  readonly failed: (err: Error) => void
  readonly now?: () => number
}

/** sweep period: a quarter of the expiry, within [100 ms, 5 min] */
export function sweepPeriod (expiryMs: number): number {
  return Math.min(Math.max(Math.floor(expiryMs / 4), 100), 300_000)
}

/** sweeps between two discoveries (a SCAN of the keyspace in Redis) */
const DISCOVER_EVERY = 12
const CLAIM_BATCH = 100

export class SessionExpiry {
  readonly #deps: ExpiryDeps
  #timer: NodeJS.Timeout | null = null
  #running: Promise<void> | null = null
  #sweeps = 0

  constructor (deps: ExpiryDeps) {
    this.#deps = deps
  }

  #now (): number { return (this.#deps.now ?? Date.now)() }

  start (): void {
    if (this.#timer) return
    this.#timer = setInterval(() => { void this.sweep() }, sweepPeriod(this.#deps.expiryMs))
    this.#timer.unref()
    void this.sweep()
  }

  /** a persistent session connected or disconnected */
  seen (clientId: string): void {
    this.#deps.clock.touch([clientId], this.#now()).catch((err: Error) => this.#deps.failed(err))
  }

  /** one sweep; overlapping calls share it */
  sweep (): Promise<void> {
    this.#running ??= this.#sweep().catch((err: Error) => this.#deps.failed(err)).finally(() => { this.#running = null })
    return this.#running
  }

  async #sweep (): Promise<void> {
    const d = this.#deps
    const now = this.#now()
    await d.clock.touch(d.liveIds(), now)
    if (this.#sweeps++ % DISCOVER_EVERY === 0) await d.clock.discover(now)
    for (;;) {
      const ids = await d.clock.claimExpired(now - d.expiryMs, CLAIM_BATCH)
      for (const id of ids) {
        // live here after all (connected during the claim): its clock starts again
        if (d.isLive(id)) { await d.clock.touch([id], this.#now()); continue }
        await d.remove(id)
        d.expired(id)
      }
      if (ids.length < CLAIM_BATCH || this.#timer === null) break
    }
  }

  async stop (): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    await this.#running
  }
}
