// Concurrent connections per client address (connect reason too_many_connections,
// README "Limits against hostile clients"). Pure bookkeeping: the caller acquires at accept and
// releases exactly once at close.

export class ConnectionLimiter {
  readonly #counts = new Map<string, number>()
  readonly max: number

  constructor (maxPerAddress: number) { this.max = maxPerAddress }

  /** Count one more connection from this address; returns the new count. */
  acquire (address: string): number {
    const n = (this.#counts.get(address) ?? 0) + 1
    this.#counts.set(address, n)
    return n
  }

  release (address: string): void {
    const n = (this.#counts.get(address) ?? 0) - 1
    if (n <= 0) this.#counts.delete(address)
    else this.#counts.set(address, n)
  }

  count (address: string): number { return this.#counts.get(address) ?? 0 }
  /** addresses with at least one connection */
  get addresses (): number { return this.#counts.size }
}
