// The seen-jti set of one car (README "Signed commands": `replayed`, a jti kept until exp + skew).
// Bounded by expiry, and by a maximum size: when it is full of entries that
// have not expired, a new command is refused (fail closed: the car cannot
// prove it is not a replay). With the default 60 s lifetime + 2 x 30 s skew,
// 100 000 entries means more than 800 commands per second to one car. Pure.

export const DEFAULT_REPLAY_CAPACITY = 100_000

export type ReplayOutcome = 'fresh' | 'replayed' | 'full'

export class ReplayCache {
  // jti -> expiry (ms). Map keeps insertion order, which is close to expiry order
  // (every entry lives at most the maximum lifetime + 2 x skew).
  readonly #seen = new Map<string, number>()
  readonly #capacity: number

  constructor (capacity = DEFAULT_REPLAY_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('replay capacity must be a positive integer')
    this.#capacity = capacity
  }

  get size (): number { return this.#seen.size }

  /** the live entries, oldest first: what a car keeps across a restart */
  entries (now: number): Array<[jti: string, until: number]> {
    const out: Array<[string, number]> = []
    for (const [jti, until] of this.#seen) if (until >= now) out.push([jti, until])
    return out
  }

  /** a cache holding `entries` (from entries()); expired and malformed ones are dropped */
  static from (entries: ReadonlyArray<readonly [string, number]>, now: number, capacity = DEFAULT_REPLAY_CAPACITY): ReplayCache {
    const c = new ReplayCache(capacity)
    for (const e of entries) {
      if (Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'number' && e[1] >= now) c.checkAndAdd(e[0], e[1], now)
    }
    return c
  }

  has (jti: string, now: number): boolean {
    const until = this.#seen.get(jti)
    return until !== undefined && until >= now
  }

  /** Record a jti seen until `until`; 'replayed' when already recorded, 'full' when no room is left. */
  checkAndAdd (jti: string, until: number, now: number): ReplayOutcome {
    if (this.has(jti, now)) return 'replayed'
    this.#pruneHead(now)
    if (this.#seen.size >= this.#capacity) {
      this.#pruneAll(now)
      if (this.#seen.size >= this.#capacity) return 'full'
    }
    this.#seen.delete(jti) // an expired entry of the same jti: re-insert at the tail
    this.#seen.set(jti, until)
    return 'fresh'
  }

  // amortised O(1): drop expired entries from the oldest end, stop at the first live one
  #pruneHead (now: number): void {
    for (const [jti, until] of this.#seen) {
      if (until >= now) return
      this.#seen.delete(jti)
    }
  }

  #pruneAll (now: number): void {
    for (const [jti, until] of this.#seen) if (until < now) this.#seen.delete(jti)
  }
}
