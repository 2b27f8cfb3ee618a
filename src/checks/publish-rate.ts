// --max-publish-rate: PUBLISH packets per second per connection, a token
// bucket read by the byte-stream guard (one per connection; fields only, no
// allocation per packet). Pure: the caller passes the clock.
//
// - Up to `burst` (2 s of the rate) PUBLISHes pass at once; the bucket refills
//   at `rate` per second.
// - Over it, a QoS 0 PUBLISH is dropped before Aedes parses it (as Mosquitto
//   drops QoS 0 past its limits): nothing was promised for it.
// - A QoS 1/2 PUBLISH is never dropped (its PUBACK/PUBREC would never come and
//   the client would send it again): it passes and the bucket goes into debt.
// - Persistent excess closes the connection (rate_limited): drops in
//   EXCESS_SECONDS consecutive seconds, or a debt past `burst` (QoS 1/2 at
//   more than twice the rate for two seconds).

/** consecutive seconds with drops before the connection is closed */
export const EXCESS_SECONDS = 10
/** the burst, in seconds of the rate */
export const BURST_SECONDS = 2

export type RateVerdict = 0 | 1 | 2
export const PASS: RateVerdict = 0
export const DROP: RateVerdict = 1
export const CLOSE: RateVerdict = 2

export class PublishRate {
  readonly rate: number
  readonly burst: number
  #tokens: number
  #last: number
  /** start of the current one-second window, and its drops */
  #windowStart: number
  #windowDrops = 0
  /** consecutive windows with drops */
  #overWindows = 0
  /** drops since the connection opened */
  dropped = 0
  /** set by refill when the connection is over its rate for good */
  #excess = false

  constructor (ratePerSecond: number, now: number) {
    this.rate = ratePerSecond
    this.burst = ratePerSecond * BURST_SECONDS
    this.#tokens = this.burst
    this.#last = now
    this.#windowStart = now
  }

  /** Once per read chunk: refill by the time passed, close the windows that ended. */
  refill (now: number): void {
    const dt = now - this.#last
    if (dt > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + dt * this.rate / 1000)
      this.#last = now
    }
    const sinceWindow = now - this.#windowStart
    if (sinceWindow >= 1000) {
      // a quiet gap longer than a window breaks the run
      this.#overWindows = this.#windowDrops > 0 && sinceWindow < 2000 ? this.#overWindows + 1 : 0
      if (this.#overWindows >= EXCESS_SECONDS) this.#excess = true
      this.#windowStart = now
      this.#windowDrops = 0
    }
  }

  /** One PUBLISH header of QoS `qos`; `droppable`: its bytes can still be cut out of the stream. */
  take (qos: number, droppable: boolean): RateVerdict {
    if (this.#excess) return CLOSE
    if (this.#tokens >= 1) { this.#tokens--; return PASS }
    if (qos === 0) {
      // a header split over reads is already half in Aedes' parser: it passes, at most one per read
      if (!droppable) return PASS
      this.dropped++
      this.#windowDrops++
      return DROP
    }
    this.#tokens--
    return this.#tokens < -this.burst ? CLOSE : PASS
  }

  /** true when the last `count` drops opened a run of windows with drops (what is audited: once per run) */
  startedRun (count: number): boolean { return count > 0 && this.#windowDrops === count && this.#overWindows === 0 }
}
