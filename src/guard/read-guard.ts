// The byte-stream guard (DESIGN "Verified pitfalls": Aedes' parser has no size
// limit). Aedes reads its connection with `conn.read()` on 'readable' (paused
// mode; flowing mode calls read() too), so the guard wraps read() on that one
// socket: every byte Aedes will parse is scanned first, and a packet that
// announces more than the limit closes the connection before its body is
// handed over. No stream in between: nothing on the write path, no extra hop
// or object per chunk (a Duplex here cost ~10% of publish throughput).
// (A shared guarded prototype was measured too: setPrototypeOf gave every
// socket its own hidden class, ~1.4 KB per connection.)
import { Readable } from 'node:stream'
import type { Socket } from 'node:net'
import { PacketScanner, type Oversize } from './packet-scanner.js'

const originalRead = Readable.prototype.read

/** What told the refusal: shared by every connection of a server (no closure per connection). */
export type OversizeHandler = (over: Oversize, socket: Socket) => void

/** A socket's scanner and who hears of an oversize packet: the one object the guard adds per connection. */
class SocketGuard extends PacketScanner {
  constructor (maxPacketSize: number, readonly onOversize: OversizeHandler) { super(maxPacketSize) }
}

const GUARD = Symbol('fleetgate.readGuard')
type GuardedSocket = Socket & { [GUARD]?: SocketGuard }

/** One read() for every guarded socket (its scanner hangs off the socket): no closure per connection. */
function guardedRead (this: GuardedSocket, size?: number): Buffer | string | null {
  const chunk = originalRead.call(this, size) as Buffer | string | null
  if (chunk === null || typeof chunk === 'string') return chunk
  const guard = this[GUARD]!
  const over = guard.scan(chunk)
  if (over === null) return chunk
  // Never hand over the offending packet; the connection ends here.
  this.read = () => null
  guard.onOversize(over, this)
  this.destroy()
  return null
}

/** Guard `socket`'s reads; `onOversize` is told of the first packet announcing more than `maxPacketSize`. */
export function guardReads (socket: Socket, maxPacketSize: number, onOversize: (over: Oversize) => void): void {
  guardSocketReads(socket, maxPacketSize, (over) => onOversize(over))
}

/** guardReads with a handler shared by every connection (it is given the socket). */
export function guardSocketReads (socket: Socket, maxPacketSize: number, onOversize: OversizeHandler): void {
  ;(socket as GuardedSocket)[GUARD] = new SocketGuard(maxPacketSize, onOversize)
  socket.read = guardedRead
}
