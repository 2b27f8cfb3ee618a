// The byte-stream guard between a TLSSocket and Aedes. Aedes' parser has no
// packet size limit (DESIGN "Verified pitfalls"): this stream reads each fixed
// header as it passes and closes the connection as soon as a packet announces
// more than the maximum, before its body is forwarded. Chunks pass through
// untouched both ways; backpressure, end, close and errors propagate.
import { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import { PacketScanner, type Oversize } from './packet-scanner.js'

export interface GuardOptions {
  readonly maxPacketSize: number
  /** called once, before the connection is destroyed */
  readonly onOversize: (oversize: Oversize) => void
}

type WriteCallback = (error?: Error | null) => void

export class GuardedStream extends Duplex {
  readonly socket: Socket
  readonly #scanner: PacketScanner
  readonly #onOversize: GuardOptions['onOversize']
  #pendingWrite: WriteCallback | null = null
  /** the reader wants data (Readable called _read and push has not said stop) */
  #wanted = false

  constructor (socket: Socket, opts: GuardOptions) {
    super({ allowHalfOpen: false, decodeStrings: false })
    this.socket = socket
    this.#scanner = new PacketScanner(opts.maxPacketSize)
    this.#onOversize = opts.onOversize
    // Paused mode, as Aedes reads a socket itself: read() hands over everything
    // decrypted so far in one buffer, so Aedes parses (and answers) in batches.
    socket.on('readable', () => this.#pump())
    socket.on('end', () => this.push(null))
    socket.on('drain', () => this.#drained())
    socket.on('error', (err) => this.destroy(err))
    socket.on('close', () => { this.#drained(); if (!this.destroyed) this.destroy() })
  }

  /** Aedes and users may read the peer's address from the stream they were given. */
  get remoteAddress (): string | undefined { return this.socket.remoteAddress }
  get remotePort (): number | undefined { return this.socket.remotePort }
  get remoteFamily (): string | undefined { return this.socket.remoteFamily }

  #pump (): void {
    let chunk: Buffer | null
    while (this.#wanted && !this.destroyed && (chunk = this.socket.read() as Buffer | null) !== null) {
      const over = this.#scanner.scan(chunk)
      if (over !== null) {
        // Never forward the body of the offending packet; the connection ends here.
        this.#onOversize(over)
        this.destroy()
        return
      }
      this.#wanted = this.push(chunk)
    }
  }

  #drained (): void {
    const cb = this.#pendingWrite
    this.#pendingWrite = null
    if (cb) cb()
  }

  override _read (): void {
    this.#wanted = true
    this.#pump()
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: WriteCallback): void {
    if (this.socket.write(chunk)) cb()
    else this.#pendingWrite = cb
  }

  // mqtt-packet corks the stream around each packet: pass the parts on in one go.
  override _writev (chunks: Array<{ chunk: Buffer }>, cb: WriteCallback): void {
    const socket = this.socket
    socket.cork()
    let ok = true
    for (let i = 0; i < chunks.length; i++) ok = socket.write(chunks[i]!.chunk)
    socket.uncork()
    if (ok) cb()
    else this.#pendingWrite = cb
  }

  override _final (cb: WriteCallback): void {
    this.socket.end()
    cb()
  }

  override _destroy (err: Error | null, cb: (error?: Error | null) => void): void {
    if (!this.socket.destroyed) this.socket.destroy()
    this.#drained()
    cb(err)
  }
}
