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
//
// Fair reads: read() returns all that is buffered (a TLS socket pushes 64 KiB
// of cleartext or more per network read) and Aedes parses and handles every
// packet of it before the event loop goes on. Fifty cars flooding small
// PUBLISHes made one turn hand Aedes ~3.5 MiB (a read per socket, ~80,000
// packets) and last seconds, so a new connection's handshake and CONNECT,
// a few turns, waited over 10 s on a loaded machine. So a turn hands
// Aedes at most TURN_BUDGET packets, shared by the sockets that read in it
// (each at least MIN_READ_BUDGET): at its share a socket's scan stops on a
// packet boundary and the rest goes back to the front of the stream's buffer
// (unshift: the stream keeps every byte, in order, with its own
// backpressure). A read over the share in the same turn returns null and the
// socket is woken ('readable', what Aedes reads on) in the next turn. A turn
// ends with one setImmediate shared by every socket. Flowing mode is left
// alone ('data' is emitted inside read(), before the guard sees the chunk).
import { Readable } from 'node:stream'
import type { Socket } from 'node:net'
import { PacketScanner, type Oversize } from './packet-scanner.js'
import { PublishRate } from './publish-rate.js'

const originalRead = Readable.prototype.read

/** Packets the guarded sockets may hand Aedes in one event-loop turn, shared by the sockets that read in it. */
export const TURN_BUDGET = 4096
/** ... but each socket may hand at least this many per turn (past TURN_BUDGET / MIN_READ_BUDGET busy sockets a turn grows with them). */
export const MIN_READ_BUDGET = 64

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
  /** the turn `left` belongs to */
  turn = -1
  /** packets this socket may still hand over in `turn` */
  left = 0
  /** a read was held back and the wake-up is not done yet */
  waiting = false
  constructor (maxPacketSize: number, readonly onOversize: OversizeHandler, rate: PublishRate | null, readonly onRate: RateHandler | null) { super(maxPacketSize, rate) }
}

// The turn: advanced by one setImmediate after the first guarded read since the last advance.
let turn = 0
let advancing = false
/** sockets that read in this turn so far, and in the previous one; packets allotted to them in this turn */
let readersNow = 0
let readersLast = 0
let allotted = 0
function advanceTurn (): void { turn++; advancing = false; readersLast = readersNow; readersNow = 0; allotted = 0 }

/**
 * A socket's share of the turn, at its first read in it: TURN_BUDGET over as many sockets as read in
 * the last turn (or more), within what is left of the turn, but never less than MIN_READ_BUDGET. So a
 * turn hands Aedes at most TURN_BUDGET + MIN_READ_BUDGET per socket that reads in it.
 */
function shareOfTurn (): number {
  if (!advancing) { advancing = true; setImmediate(advanceTurn) }
  const readers = ++readersNow > readersLast ? readersNow : readersLast
  let share = Math.floor(TURN_BUDGET / readers)
  if (share > TURN_BUDGET - allotted) share = TURN_BUDGET - allotted
  if (share < MIN_READ_BUDGET) share = MIN_READ_BUDGET
  allotted += share
  return share
}

/** Next turn for a socket whose bytes were held back: what Aedes reads on, if they are still there and unread. */
function wake (socket: GuardedSocket): void {
  const guard = socket[GUARD]!
  if (!guard.waiting) return
  guard.waiting = false
  if (!socket.destroyed && socket.readableLength > 0) socket.emit('readable')
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
function guardedRead (this: GuardedSocket, size?: number | null): Buffer | string | null {
  const guard = this[GUARD]!
  if (guard.turn !== turn) { guard.turn = turn; guard.left = shareOfTurn() }
  // flowing mode: 'data' was emitted inside read(), nothing can be held back
  const limit = this.readableFlowing === true ? Infinity : guard.left
  if (limit <= 0 && size !== 0 && this.readableLength > 0) {
    // this turn's packets are handed over: the rest waits in the stream's buffer for the next turn
    if (!guard.waiting) { guard.waiting = true; setImmediate(wake, this) }
    return null
  }
  const chunk = originalRead.call(this, size ?? undefined) as Buffer | string | null
  if (chunk === null || typeof chunk === 'string') return chunk
  guard.waiting = false
  const rate = guard.rate
  let droppedBefore = 0
  if (rate !== null) { rate.refill(Date.now()); droppedBefore = rate.dropped } // one clock read per chunk, not per packet
  const over = guard.scan(chunk, limit)
  if (over === null && !guard.rateExceeded) {
    guard.left -= guard.counted
    let handed = chunk
    if (guard.end < chunk.length) {
      // the budget ends at a packet boundary: the rest, not scanned yet, goes back to the front of the buffer
      handed = chunk.subarray(0, guard.end)
      this.unshift(chunk.subarray(guard.end))
    }
    // Aedes reads again when the packets it was handed are handled; with none complete (part of a large one,
    // or all cut out) and bytes left, nothing would make it read: wake it next turn
    if ((guard.completed === 0 || guard.drops.length > 0) && !guard.waiting && this.readableLength > 0) { guard.waiting = true; setImmediate(wake, this) }
    if (guard.drops.length === 0) return handed
    // over --max-publish-rate: the QoS 0 PUBLISHes are cut out before Aedes parses them
    const count = rate!.dropped - droppedBefore
    if (count > 0) guard.onRate!.dropped(this, count, rate!.startedRun(count))
    return cut(handed, guard.drops)
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
