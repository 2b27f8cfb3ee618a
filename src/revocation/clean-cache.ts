// Clean answers, by leaf fingerprint, with a TTL. Every revocation event clears
// it at once (a CA revocation can touch any entry, so no per-key bookkeeping),
// and a generation number lets a lookup that raced an event know its answer is stale.
export class CleanCache {
  readonly #at = new Map<string, number>()
  readonly #ttl: number
  readonly #max: number
  #generation = 0

  constructor (ttlMs: number, max = 100_000, readonly now: () => number = Date.now) {
    this.#ttl = ttlMs
    this.#max = max
  }

  get generation (): number { return this.#generation }

  /** checked clean within the TTL */
  isClean (fingerprint: string): boolean {
    const at = this.#at.get(fingerprint)
    if (at === undefined) return false
    if (this.now() - at <= this.#ttl) return true
    this.#at.delete(fingerprint)
    return false
  }

  /** record a clean answer, unless an event arrived since `generation` was read */
  put (fingerprint: string, generation: number): void {
    if (this.#ttl <= 0 || generation !== this.#generation) return
    this.#at.delete(fingerprint)
    this.#at.set(fingerprint, this.now())
    if (this.#at.size > this.#max) this.#at.delete(this.#at.keys().next().value!)
  }

  invalidate (): void {
    this.#generation++
    this.#at.clear()
  }

  get size (): number { return this.#at.size }
}
