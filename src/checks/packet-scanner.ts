// Reads just the MQTT fixed header of each packet as bytes go by (type byte +
// remaining-length varint, [MQTT-2.2.3]) and skips the bodies, across chunk
// boundaries. With a publish rate (--max-publish-rate) each PUBLISH header
// takes a token, and a QoS 0 PUBLISH over the rate is marked for dropping
// (header and body, also where the body runs into later chunks). With a
// packet limit, a scan stops at the packet boundary after that many headers
// (the read guard's per-turn budget hands Aedes that much and leaves the rest
// buffered); the rest is scanned when it is read again. Pure: no I/O, no
// allocation per packet.
import { CLOSE, DROP, type PublishRate } from './publish-rate.js'

export interface Oversize {
  /** offset in the chunk where the offending packet starts (0 if it began in an earlier chunk) */
  readonly offset: number
  /** 1 + varint bytes + remaining length, as announced; -1 when the varint itself is malformed */
  readonly announced: number
}

const HEADER = 0
const LENGTH = 1

export class PacketScanner {
  readonly #max: number
  /** the connection's PUBLISH token bucket; null: no rate limit */
  readonly rate: PublishRate | null
  /** [start, end) byte ranges of the last scanned chunk to cut out (dropped PUBLISHes) */
  readonly drops: number[] = []
  /** set when the rate says the connection is to be closed (rate_limited) */
  rateExceeded = false
  /** where the last scan stopped: the chunk's length, or the packet boundary where its limit was reached */
  end = 0
  /** packet headers the last scan read (each packet counted once, where its header ends) */
  counted = 0
  /** packets whose last byte the last scan read */
  completed = 0
  #state = HEADER
  /** the packet's first byte (type and flags) */
  #first = 0
  /** the packet's header began in the chunk being scanned (so it can still be cut out) */
  #headerHere = false
  /** the body being skipped belongs to a dropped PUBLISH */
  #dropping = false
  /** body bytes still to skip */
  #skip = 0
  #value = 0
  #mult = 1
  #lenBytes = 0
  #start = 0

  constructor (maxPacketSize: number, rate: PublishRate | null = null) { this.#max = maxPacketSize; this.rate = rate }

  /** cut [from, to) out of the chunk; adjoining ranges merge (header + body of one PUBLISH, or a run of them) */
  #drop (from: number, to: number): void {
    const d = this.drops
    if (d.length > 0 && d[d.length - 1] === from) d[d.length - 1] = to
    else d.push(from, to)
  }

  /**
   * null when every packet seen so far fits; otherwise the first that does not.
   * `limit`: stop at the packet boundary after that many headers (`end` tells
   * where; the bytes from there on are not scanned and must be scanned next).
   */
  scan (chunk: Uint8Array, limit = Infinity): Oversize | null {
    const n = chunk.length
    if (this.drops.length > 0) this.drops.length = 0
    this.end = n
    this.counted = 0
    this.completed = 0
    let i = 0
    while (i < n) {
      if (this.#skip > 0) {
        const left = n - i
        if (this.#skip >= left) {
          if (this.#dropping) this.#drop(i, n)
          this.#skip -= left
          if (this.#skip === 0) { this.#dropping = false; this.completed++ }
          return null
        }
        if (this.#dropping) { this.#drop(i, i + this.#skip); this.#dropping = false }
        i += this.#skip
        this.#skip = 0
        this.completed++
        continue
      }
      if (this.#state === HEADER) {
        if (this.counted >= limit) { this.end = i; return null }
        this.#start = i
        this.#first = chunk[i]!
        this.#headerHere = true
        this.#state = LENGTH
        this.#value = 0; this.#mult = 1; this.#lenBytes = 0
        i++
        continue
      }
      const b = chunk[i++]!
      this.#value += (b & 0x7f) * this.#mult
      this.#lenBytes++
      if (b & 0x80) {
        // A fifth length byte is malformed [MQTT-2.2.3].
        if (this.#lenBytes === 4) return { offset: this.#start, announced: -1 }
        this.#mult *= 128
        continue
      }
      const total = 1 + this.#lenBytes + this.#value
      if (total > this.#max) return { offset: this.#start, announced: total }
      this.counted++
      // PUBLISH (type 3): one token; a header split over chunks cannot be cut out any more
      if (this.rate !== null && (this.#first >> 4) === 3) {
        const verdict = this.rate.take((this.#first >> 1) & 3, this.#headerHere)
        if (verdict === DROP) {
          this.#drop(this.#start, i)
          this.#dropping = this.#value > 0
        } else if (verdict === CLOSE) {
          this.rateExceeded = true
          return null
        }
      }
      this.#skip = this.#value
      if (this.#value === 0) this.completed++
      this.#state = HEADER
      this.#start = 0
    }
    // A header split over chunks: its packet began in this chunk or an earlier one.
    if (this.#state === LENGTH) { if (this.#start > 0) this.#start = 0; this.#headerHere = false }
    return null
  }
}
