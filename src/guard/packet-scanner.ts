// Reads just the MQTT fixed header of each packet as bytes go by (type byte +
// remaining-length varint, [MQTT-2.2.3]) and skips the bodies, across chunk
// boundaries. Pure: no I/O, no allocation per packet.

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
  #state = HEADER
  /** body bytes still to skip */
  #skip = 0
  #value = 0
  #mult = 1
  #lenBytes = 0
  #start = 0

  constructor (maxPacketSize: number) { this.#max = maxPacketSize }

  /** null when every packet seen so far fits; otherwise the first that does not. */
  scan (chunk: Uint8Array): Oversize | null {
    const n = chunk.length
    let i = 0
    while (i < n) {
      if (this.#skip > 0) {
        const left = n - i
        if (this.#skip >= left) { this.#skip -= left; return null }
        i += this.#skip
        this.#skip = 0
        continue
      }
      if (this.#state === HEADER) {
        this.#start = i
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
      this.#skip = this.#value
      this.#state = HEADER
      this.#start = 0
    }
    // A header split over chunks: its packet began in this chunk or an earlier one.
    if (this.#state === LENGTH && this.#start > 0) this.#start = 0
    return null
  }
}
