// What happens to a TLS connection between the handshake and Aedes: it is
// counted against its address's limit and its reads pass the byte-stream guard.
import type { Socket } from 'node:net'
import type { Oversize } from './packet-scanner.js'
import { guardSocketReads, type RateLimit } from './read-guard.js'
import type { ConnectionLimiter } from './connection-limiter.js'

export type Admission =
  /** hand `stream` to broker.handle; `overLimit`: refuse it at CONNECT (CONNACK 5, too_many_connections) */
  | { readonly stream: Socket; readonly overLimit: boolean; readonly count: number }
  /** far over the limit: destroyed at once, no MQTT at all */
  | { readonly stream: null; readonly overLimit: true; readonly count: number }

/** One per server, shared by its connections (nothing here is made per connection). */
export interface AdmitOptions {
  readonly limiter: ConnectionLimiter
  readonly maxPacketSize: number
  readonly onOversize: (oversize: Oversize, socket: Socket) => void
  /** --max-publish-rate (absent or 0: none) */
  readonly rateLimit?: RateLimit
}

/** `remote`: the client's address (the PROXY header's behind a load balancer); default the socket's */
export function admitConnection (socket: Socket, opts: AdmitOptions, remote: string | undefined = socket.remoteAddress): Admission {
  const address = remote ?? 'unknown'
  const limiter = opts.limiter
  const count = limiter.acquire(address)
  if (socket.destroyed) limiter.release(address)
  else socket.on('close', () => limiter.release(address)) // 'close' fires once; on() spares the once-wrapper per connection
  // Refused connections are answered at CONNECT (too_many_connections is a
  // connect reason: CONNACK 5, audited like any other refusal). Past twice the limit a flood is shed without waiting
  // for its CONNECT, so it cannot pile up for the whole connect timeout.
  if (count > 2 * limiter.max) {
    socket.destroy()
    return { stream: null, overLimit: true, count }
  }
  guardSocketReads(socket, opts.maxPacketSize, opts.onOversize, opts.rateLimit)
  return { stream: socket, overLimit: count > limiter.max, count }
}
