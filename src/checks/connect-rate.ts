// --max-connect-rate: new connections per second on this node, a token bucket
// holding one second of the rate (a burst of that many is admitted at once).
// Pure bookkeeping; the caller gives the clock.

export class ConnectRate {
  readonly perSecond: number
  #tokens: number
  #at: number

  constructor (perSecond: number, now: number) {
    this.perSecond = perSecond
    this.#tokens = perSecond
    this.#at = now
  }

  /** Take one token if there is one: false means over the rate. */
  take (now: number): boolean {
    if (now > this.#at) {
      this.#tokens = Math.min(this.perSecond, this.#tokens + (now - this.#at) * this.perSecond / 1000)
      this.#at = now
    } else if (now < this.#at) {
      // a clock that went back: refill from here on, never wait for it to catch up
      this.#at = now
    }
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
