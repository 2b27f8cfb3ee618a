// MQTT 3.1.1 written byte by byte over node:tls, for what MQTT.js will not
// send: malformed packets, floods as fast as the socket drains, QoS 2 flows
// that never release, a subscriber that never reads. Every wait is bounded.
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type { BrokerAddress } from '../broker-url.js'
import type { ClientTlsPem } from '../../src/index.js'

/** The remaining-length varint [MQTT-2.2.3]. */
export function encodeLength (n: number): Buffer {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Buffer.from(out)
}

function utf8 (s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s
  const len = Buffer.allocUnsafe(2)
  len.writeUInt16BE(b.length)
  return Buffer.concat([len, b])
}

/** A fixed header (first byte as given) + remaining length + body. */
export function packet (first: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([first]), encodeLength(body.length), body])
}

export interface ConnectFields {
  readonly clientId: string
  readonly protocolName?: string
  readonly level?: number
  /** connect flags byte; default 0x02 (clean session) */
  readonly flags?: number
  readonly keepalive?: number
}

export function connectPacket (f: ConnectFields): Buffer {
  const level = f.level ?? 4
  const head = Buffer.concat([utf8(f.protocolName ?? 'MQTT'), Buffer.from([level, f.flags ?? 0x02, 0, 0])])
  head.writeUInt16BE(f.keepalive ?? 60, head.length - 2)
  // MQTT 5 has a properties length after the keepalive: none here
  const props = level === 5 ? Buffer.from([0]) : Buffer.alloc(0)
  return packet(0x10, Buffer.concat([head, props, utf8(f.clientId)]))
}

/** PUBLISH; `first` overrides the first byte (reserved flags, QoS 3). */
export function publishPacket (topic: string | Buffer, payload: Buffer, qos: 0 | 1 | 2, messageId = 1, first?: number): Buffer {
  const id = Buffer.allocUnsafe(qos > 0 ? 2 : 0)
  if (qos > 0) id.writeUInt16BE(messageId)
  return packet(first ?? (0x30 | (qos << 1)), Buffer.concat([utf8(topic), id, payload]))
}

export function subscribePacket (filter: string, qos: 0 | 1 | 2, messageId = 1): Buffer {
  const id = Buffer.allocUnsafe(2)
  id.writeUInt16BE(messageId)
  return packet(0x82, Buffer.concat([id, utf8(filter), Buffer.from([qos])]))
}

/** What the broker answered to a CONNECT. */
export type RawConnect =
  | { readonly kind: 'connack'; readonly code: number; readonly socket: TLSSocket }
  | { readonly kind: 'closed' | 'timeout' | 'error'; readonly message: string }

/** TLS handshake, then `connect` (a CONNECT or any bytes); resolves at the CONNACK, a close, or the timeout. */
export async function rawConnect (addr: BrokerAddress, tls: ClientTlsPem, connect: Buffer, timeoutMs = 5000, localAddress?: string): Promise<RawConnect> {
  return await new Promise((resolve) => {
    const socket = tlsConnect({ host: addr.host, port: addr.port, servername: addr.servername, ca: tls.ca, cert: tls.cert, key: tls.key, ...(localAddress ? { localAddress } : {}) })
    let got = Buffer.alloc(0)
    let settled = false
    const finish = (r: RawConnect) => {
      if (settled) return
      settled = true
      clearTimeout(t)
      socket.off('data', onData)
      if (r.kind !== 'connack') socket.destroy()
      resolve(r)
    }
    const t = setTimeout(() => finish({ kind: 'timeout', message: `no answer within ${timeoutMs} ms` }), timeoutMs)
    socket.on('error', (err) => finish({ kind: 'error', message: (err as Error & { code?: string }).code ?? err.message }))
    socket.once('close', () => finish({ kind: 'closed', message: 'closed by the broker' }))
    socket.once('secureConnect', () => { socket.write(connect) })
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d])
      if (got.length < 4) return
      if (got[0] !== 0x20) return finish({ kind: 'error', message: `unexpected packet 0x${got[0]!.toString(16)}` })
      if (got.length > 4) socket.unshift(got.subarray(4))
      finish({ kind: 'connack', code: got[3]!, socket })
    }
    socket.on('data', onData)
  })
}

/** Resolves with ms until the socket closed, or null if still open after timeoutMs. */
export async function closedWithin (socket: TLSSocket, timeoutMs: number): Promise<number | null> {
  if (socket.destroyed) return 0
  const start = performance.now()
  return await new Promise((resolve) => {
    const t = setTimeout(() => { socket.off('close', on); resolve(null) }, timeoutMs)
    const on = () => { clearTimeout(t); resolve(performance.now() - start) }
    socket.once('close', on)
  })
}

export interface FloodResult {
  /** packets written */
  readonly sent: number
  readonly ms: number
  /** the broker closed the connection */
  readonly closed: boolean
}

/** Write packets as fast as the socket drains until `max` are written, `maxMs` passed, or the socket closed. */
export async function flood (socket: TLSSocket, next: (i: number) => Buffer, max: number, maxMs: number): Promise<FloodResult> {
  const start = performance.now()
  let sent = 0
  let closed = socket.destroyed
  const onClose = () => { closed = true }
  socket.once('close', onClose)
  while (!closed && sent < max && performance.now() - start < maxMs) {
    let room = true
    // a burst per turn, then let the loop (and the socket's reads) run
    for (let k = 0; k < 256 && room && sent < max; k++) room = socket.write(next(sent++))
    if (!room) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.max(1, maxMs - (performance.now() - start)))
        function done () { clearTimeout(t); socket.off('drain', done); socket.off('close', done); resolve() }
        socket.once('drain', done)
        socket.once('close', done)
      })
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
  socket.off('close', onClose)
  return { sent, ms: performance.now() - start, closed }
}
