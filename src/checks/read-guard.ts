// The byte-stream guard: Aedes' parser has no size limit of its own, so a peer
// could make it buffer a packet of any announced size. Aedes reads its
// connection with `conn.read()` on 'readable' (paused mode; flowing mode calls
// read() too; test/unit/aedes/adapter.test.ts checks it), so the guard
// wraps read() on that one socket: every byte Aedes will parse is scanned
// first, and a packet that announces more than the limit closes the connection
// before its body is handed over. No stream in between: nothing on the write path, no extra hop
// or object per chunk (a Duplex here cost ~10% of publish throughput).
// (A shared guarded prototype was measured too: setPrototypeOf gave every
// socket its own hidden class, ~1.4 KB per connection.)
import { Readable } from 'node:stream'
import type { Socket } from 'node:net'
import { PacketScanner, type Oversize } from './packet-scanner.js'
import { PublishRate } from './publish-rate.js'

const originalRead = Readable.prototype.read

/** What told the refusal: shared by every connection of a server (no closure per connection). */
export type OversizeHandler = (over: Oversize, socket: Socket) => void

/** --max-publish-rate: told of the QoS 0 PUBLISHes dropped from one chunk (first: the first drop of a run), or that the connection is closed. */
export interface RateHandler {
  dropped (socket: Socket, count: number, first: boolean): void
  closed (socket: Socket, dropped: number): void
}

/** A rate limit for guardSocketReads: PUBLISH packets per second (0: none) and who hears of it. */
export interface RateLimit { readonly perSecond: number; readonly handler: RateHandler }

/** A socket's scanner and who hears of an oversize packet: the one object the guard adds per connection. */
class SocketGuard extends PacketScanner {
  constructor (maxPacketSize: number, readonly onOversize: OversizeHandler, rate: PublishRate | null, readonly onRate: RateHandler | null) { super(maxPacketSize, rate) }
}

/** The chunk without the dropped ranges; null when nothing is left. */
function cut (chunk: Buffer, drops: readonly number[]): Buffer | null {
  let kept = chunk.length
  for (let k = 0; k < drops.length; k += 2) kept -= drops[k + 1]! - drops[k]!
  if (kept === 0) return null
  const out = Buffer.allocUnsafe(kept)
  let o = 0
  let from = 0
  for (let k = 0; k < drops.length; k += 2) {
    o += chunk.copy(out, o, from, drops[k]!)
    from = drops[k + 1]!
  }
  chunk.copy(out, o, from)
  return out
}

const GUARD = Symbol('fleetgate.readGuard')
type GuardedSocket = Socket & { [GUARD]?: SocketGuard }

/** One read() for every guarded socket (its scanner hangs off the socket): no closure per connection. */
function guardedRead (this: GuardedSocket, size?: number): Buffer | string | null {
  const chunk = originalRead.call(this, size) as Buffer | string | null
  if (chunk === null || typeof chunk === 'string') return chunk
  const guard = this[GUARD]!
  const rate = guard.rate
  let droppedBefore = 0
  if (rate !== null) { rate.refill(Date.now()); droppedBefore = rate.dropped } // one clock read per chunk, not per packet
  const over = guard.scan(chunk)
  if (over === null && !guard.rateExceeded) {
    if (guard.drops.length === 0) return chunk
    // over --max-publish-rate: the QoS 0 PUBLISHes are cut out before Aedes parses them
    const count = rate!.dropped - droppedBefore
    if (count > 0) guard.onRate!.dropped(this, count, rate!.startedRun(count))
    return cut(chunk, guard.drops)
  }
  // Never hand over the offending packet; the connection ends here.
  this.read = () => null
  if (over !== null) guard.onOversize(over, this)
  else guard.onRate!.closed(this, rate!.dropped)
  this.destroy()
  return null
}

/** Guard `socket`'s reads; `onOversize` is told of the first packet announcing more than `maxPacketSize`. */
export function guardReads (socket: Socket, maxPacketSize: number, onOversize: (over: Oversize) => void): void {
  guardSocketReads(socket, maxPacketSize, (over) => onOversize(over))
}

/** guardReads with a handler shared by every connection (it is given the socket). */
export function guardSocketReads (socket: Socket, maxPacketSize: number, onOversize: OversizeHandler, rateLimit?: RateLimit): void {
  const rate = rateLimit && rateLimit.perSecond > 0 ? new PublishRate(rateLimit.perSecond, Date.now()) : null
  ;(socket as GuardedSocket)[GUARD] = new SocketGuard(maxPacketSize, onOversize, rate, rate ? rateLimit!.handler : null)
  socket.read = guardedRead
}
