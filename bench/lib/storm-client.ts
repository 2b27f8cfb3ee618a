// The cars of the reconnect storm (bench/reconnect-storm.ts): a lean MQTT 3.1.1
// client over node:tls, as bench/lib/mqtt-raw.ts (CONNECT written by hand, the
// CONNACK read by hand, each car's SecureContext made once), that also keeps the
// latest TLS session the broker gave each car ('session' event: a TLS 1.3 ticket
// arrives after the handshake, before the CONNACK that follows it) and offers it
// on the car's next connect, as a car's TLS stack would.
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls'
import { performance } from 'node:perf_hooks'
import { readFileSync } from 'node:fs'
import mqttPacket from 'mqtt-packet'
import { percentile } from './stats.js'

export interface StormCar {
  readonly vin: string
  readonly ctx: SecureContext
  /** its CONNECT packet (clientId = VIN, clean session) */
  readonly connect: Buffer
  /** the latest TLS session the broker gave it, offered on its next connect */
  session?: Buffer
  /** its connection after CONNACK 0, kept open */
  socket?: TLSSocket
}

export function stormCar (vin: string, ctx: SecureContext, keepalive = 600): StormCar {
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: vin, keepalive } as mqttPacket.IConnectPacket)
  return { vin, ctx, connect }
}

export interface Attempt {
  /** CONNACK return code; -1: none (handshake or connection error, timeout) */
  readonly rc: number
  /** the TLS session was resumed (socket.isSessionReused()) */
  readonly reused: boolean
  /** TLS version of the connection ('TLSv1.3'), when the handshake finished */
  readonly protocol?: string
  /** tls.connect to CONNACK, ms */
  readonly ms: number
  readonly error?: string
}

/**
 * One connect: TLS handshake (offering the car's session when `offer`), CONNECT,
 * CONNACK. At CONNACK 0 the socket stays open as `car.socket`; otherwise it is
 * destroyed. Never rejects; bounded by `timeoutMs`. `inFlight` holds the socket
 * until it is answered, so a deadline can end every pending one.
 */
export function connectCar (port: number, car: StormCar, offer: boolean, timeoutMs: number, inFlight: Set<TLSSocket>): Promise<Attempt> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', secureContext: car.ctx, ...(offer && car.session ? { session: car.session } : {}) })
    s.setNoDelay(true)
    inFlight.add(s)
    let settled = false
    let got: Buffer = Buffer.alloc(0)
    const finish = (rc: number, error?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      inFlight.delete(s)
      s.off('data', onData)
      const a: Attempt = { rc, reused: s.isSessionReused(), protocol: s.getProtocol() ?? undefined, ms: performance.now() - t0, ...(error ? { error } : {}) }
      if (rc === 0) {
        car.socket = s
        s.on('data', () => {}) // nothing expected; never let the socket stall
      } else {
        s.destroy()
      }
      resolve(a)
    }
    const timer = setTimeout(() => finish(-1, 'timeout'), timeoutMs)
    // the latest ticket wins (TLS 1.3 servers send several); kept after CONNACK too
    s.on('session', (session: Buffer) => { car.session = session })
    s.on('error', (e: NodeJS.ErrnoException) => finish(-1, e.code ?? e.message))
    s.once('close', () => {
      if (car.socket === s) car.socket = undefined
      finish(-1, 'closed before CONNACK')
    })
    s.once('secureConnect', () => { s.write(car.connect) })
    const onData = (d: Buffer) => {
      got = got.length ? Buffer.concat([got, d]) : d
      if (got.length < 4) return
      if (got[0] !== 0x20 || got[1] !== 2) return finish(-1, 'not a CONNACK')
      finish(got[3]!)
    }
    s.on('data', onData)
  })
}

export interface WaveOptions {
  /** offer each car's last TLS session */
  readonly offer: boolean
  /** at most this many connects in flight; the rest wait in a queue */
  readonly concurrency: number
  /** the whole wave ends by then: pending connects are destroyed, cars not yet started are not attempted */
  readonly deadlineMs: number
  readonly attemptTimeoutMs: number
  /** a car whose connect fails (no CONNACK) tries again this many times, 100 ms later, without its session */
  readonly retries: number
  readonly progress?: (done: number, total: number) => void
}

export interface WaveResult {
  /** first connect started to last car answered (or given up) */
  readonly seconds: number
  /** per car (same order as the cars): its last attempt */
  readonly last: readonly Attempt[]
  /** failed attempts, retried ones included, by error */
  readonly errors: ReadonlyMap<string, number>
  readonly timedOut: boolean
}

/** Every car connects (all queued at once, `concurrency` in flight), each kept open at CONNACK 0. */
export async function connectWave (port: number, cars: readonly StormCar[], o: WaveOptions): Promise<WaveResult> {
  const inFlight = new Set<TLSSocket>()
  const last: Attempt[] = new Array<Attempt>(cars.length)
  const errors = new Map<string, number>()
  let next = 0
  let done = 0
  let timedOut = false
  const deadline = setTimeout(() => {
    timedOut = true
    for (const s of inFlight) s.destroy()
  }, o.deadlineMs)
  const t0 = performance.now()
  let tEnd = t0
  try {
    await Promise.all(Array.from({ length: Math.min(o.concurrency, cars.length) }, async () => {
      while (next < cars.length && !timedOut) {
        const i = next++
        const car = cars[i]!
        let a: Attempt | undefined
        for (let attempt = 0; attempt <= o.retries && !timedOut; attempt++) {
          if (attempt > 0) await new Promise((r) => setTimeout(r, 100))
          const offered = o.offer && attempt === 0
          a = await connectCar(port, car, offered, o.attemptTimeoutMs, inFlight)
          if (a.rc >= 0) break
          const kind = timedOut ? 'wave deadline' : a.error ?? 'error'
          errors.set(kind, (errors.get(kind) ?? 0) + 1)
        }
        last[i] = a ?? { rc: -1, reused: false, ms: 0, error: 'wave deadline' }
        tEnd = performance.now()
        o.progress?.(++done, cars.length)
      }
    }))
  } finally {
    clearTimeout(deadline)
  }
  for (let i = 0; i < cars.length; i++) {
    if (last[i] === undefined) {
      last[i] = { rc: -1, reused: false, ms: 0, error: 'not attempted (wave deadline)' }
      errors.set('not attempted (wave deadline)', (errors.get('not attempted (wave deadline)') ?? 0) + 1)
    }
  }
  return { seconds: (tEnd - t0) / 1000, last, errors, timedOut }
}

/** Destroy every car's open connection. */
export function dropAll (cars: readonly StormCar[]): number {
  let n = 0
  for (const c of cars) {
    if (c.socket && !c.socket.destroyed) { c.socket.destroy(); n++ }
    c.socket = undefined
  }
  return n
}

/** p50 and p99 of the answered attempts' latencies (ms) */
export function latencyOf (attempts: readonly Attempt[]): { p50: number; p99: number } {
  const ms = Float64Array.from(attempts.filter((a) => a.rc >= 0).map((a) => a.ms)).sort()
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) }
}

/** bounded: until the server on `port` has let go of every connection, or `ms` passed */
export async function waitReleased (port: number, ms: number): Promise<void> {
  const t0 = Date.now()
  while (serverConnections(port) > 0 && Date.now() - t0 < ms) await new Promise((resolve) => setTimeout(resolve, 100))
}

// TCP states in /proc/net/tcp: ESTABLISHED 01, SYN_RECV 03, CLOSE_WAIT 08
const OPEN_STATES = new Set(['01', '03', '08'])

/**
 * Server-side TCP connections on a local port that the server has not closed yet
 * (Linux /proc/net/tcp and tcp6, every process): after the cars drop their
 * connections, the broker has let go of them all when this reaches 0.
 */
export function serverConnections (port: number): number {
  const hex = ':' + port.toString(16).toUpperCase().padStart(4, '0')
  let n = 0
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/)
      // sl local_address rem_address st ...
      if (f.length > 3 && f[1]!.endsWith(hex) && OPEN_STATES.has(f[3]!)) n++
    }
  }
  return n
}

/** the process's soft limit of open files (Infinity where /proc cannot tell) */
export function openFileLimit (): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity
  } catch { return Infinity }
}

/**
 * SYNs the kernel dropped because a listener's accept queue was full (TcpExt
 * ListenDrops in /proc/net/netstat; machine-wide, NaN where /proc cannot tell):
 * a client whose SYN is dropped tries again after 1 s.
 */
export function listenDrops (): number {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'))
    const names = lines[0]!.split(/\s+/)
    const values = lines[1]!.split(/\s+/)
    const i = names.indexOf('ListenDrops')
    return i > 0 ? Number(values[i]) : NaN
  } catch { return NaN }
}
