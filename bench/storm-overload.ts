// `npm run bench -- storm-overload [--duration S]` (issue 18 item 4): a reconnect
// storm beyond what a node can handshake. Before each offer the node's handshake
// capacity is measured (cars connecting back to back, a fixed number in flight: full
// TLS handshake + CONNECT + CONNACK per second: this shared machine's spare CPU
// drifts). Then cars arrive at 1x, 2x and 3x that rate for S seconds each (default 30), open loop (a car that arrives connects,
// whatever became of the cars before it), each giving up after CAR_TIMEOUT_MS, on a
// fresh broker each: without admission control, with --max-connect-rate at
// RATE_FRACTION of the capacity, and with that and --max-handshakes MAX_HANDSHAKES
// (which holds whatever CPU the node gets: the rate is only as right as the
// capacity measured before). Reported: goodput (cars that got CONNACK 0, per
// second of the offer), p99 connect time of those cars, refused at accept, given up,
// and the broker's CPU. Target: with admission, goodput at 3x >= 0.8x goodput at 1x.
// The cars run in this process, on the same cores as the broker (bench/lib/storm-client.ts).
import { performance } from 'node:perf_hooks'
import { cpus, loadavg } from 'node:os'
import type { TLSSocket } from 'node:tls'
import type { BenchSection, BenchOptions } from './types.js'
import { benchCerts } from './lib/certs.js'
import { startBrokerProc, type BrokerProc } from './lib/broker-proc.js'
import { contextOf } from './lib/mqtt-raw.js'
import { cpuMeter } from './lib/cpu.js'
import { percentile, round } from './lib/stats.js'
import { connectCar, openFileLimit, stormCar, type Attempt, type StormCar } from './lib/storm-client.js'

const log = (line: string) => process.stderr.write(line + '\n')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** distinct cars (certificates); an arriving car takes the next one round the pool */
const POOL = 2000
/** connects in flight while the capacity is measured: enough that the broker never waits for a car */
const CAPACITY_CONCURRENCY = 128
/** a car gives up a connect after this (MQTT.js's default is 30 s; a car's stack often less) */
const CAR_TIMEOUT_MS = 10_000
/** --max-connect-rate as a share of the measured capacity */
const RATE_FRACTION = 0.9
const FACTORS = [1, 2, 3] as const
/** --max-handshakes of the third variant */
const MAX_HANDSHAKES = 64

export type Admission = 'none' | 'rate' | 'rate+handshakes'
const ADMISSIONS: readonly Admission[] = ['none', 'rate', 'rate+handshakes']
const DEFAULT_SECONDS = 30

export interface OfferResult {
  readonly factor: number
  readonly admission: Admission
  /** handshakes + CONNACK per second measured just before this offer */
  readonly capacity: number
  /** --max-connect-rate of this offer */
  readonly maxRate: number | undefined
  readonly offered: number
  readonly seconds: number
  /** CONNACK 0 within the car's timeout */
  readonly admitted: number
  /** of those, CONNACK 0 within the offer's window */
  readonly inWindow: number
  /** refused at accept: reset before any TLS byte (ECONNRESET with nothing read) */
  readonly refused: number
  /** gave up (car timeout) or closed by the broker mid-handshake (its handshake timeout) */
  readonly failed: number
  readonly p50: number
  readonly p99: number
  readonly brokerCpuMs: number
}

/** cars admitted (CONNACK 0) per second, within the offer's window */
export function goodput (r: OfferResult): number { return r.inWindow / r.seconds }

/** One attempt: connect, and on CONNACK 0 leave again (the node is kept in a steady state). */
async function oneCar (port: number, car: StormCar, inFlight: Set<TLSSocket>): Promise<Attempt> {
  const a = await connectCar(port, car, false, CAR_TIMEOUT_MS, inFlight)
  car.socket?.destroy()
  car.socket = undefined
  return a
}

/** Back to back, CAPACITY_CONCURRENCY in flight, for `seconds`: CONNACK 0 per second. */
async function measureCapacity (broker: BrokerProc, cars: readonly StormCar[], seconds: number): Promise<number> {
  const inFlight = new Set<TLSSocket>()
  let next = 0
  let ok = 0
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  const ticker = setInterval(() => log(`bench: storm-overload: capacity: ${ok} cars in ${((performance.now() - t0) / 1000).toFixed(0)} s`), 5000)
  ticker.unref()
  try {
    await Promise.all(Array.from({ length: CAPACITY_CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const a = await oneCar(broker.port, cars[next++ % cars.length]!, inFlight)
        if (a.rc === 0) ok++
      }
    }))
  } finally { clearInterval(ticker) }
  return ok / ((performance.now() - t0) / 1000)
}

/** Cars arrive at `rate` per second for `seconds` (open loop); each attempt runs to its end. */
async function offer (broker: BrokerProc, cars: readonly StormCar[], rate: number, seconds: number, label: string): Promise<Omit<OfferResult, 'factor' | 'admission' | 'brokerCpuMs' | 'capacity' | 'maxRate'>> {
  const inFlight = new Set<TLSSocket>()
  const attempts: Array<Promise<Attempt>> = []
  let admitted = 0
  let refused = 0
  let failed = 0
  let next = 0
  /** CONNACK 0 within the offer's window: the goodput (the backlog answered after it is not counted) */
  let inWindow = 0
  const t0 = performance.now()
  const windowEnd = t0 + seconds * 1000
  const total = Math.round(rate * seconds)
  const latencies: number[] = []
  let lastPrint = t0
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now()
      const due = Math.min(total, Math.floor(((now - t0) / 1000) * rate))
      while (attempts.length < due) {
        const car = cars[next++ % cars.length]!
        attempts.push(oneCar(broker.port, car, inFlight).then((a) => {
          if (a.rc === 0) { admitted++; latencies.push(a.ms); if (performance.now() <= windowEnd) inWindow++ } else if (a.error === 'ECONNRESET' && !a.protocol) refused++
          else failed++
          return a
        }))
      }
      if (now - lastPrint >= 5000) {
        lastPrint = now
        log(`${label}: ${((now - t0) / 1000).toFixed(0)}/${seconds} s: ${attempts.length} offered, ${admitted} admitted, ${refused} refused at accept, ${failed} failed, ${inFlight.size} in flight`)
      }
      if (attempts.length >= total) { clearInterval(tick); resolve() }
    }, 5)
  })
  // the last cars' attempts end within their timeout
  await Promise.all(attempts)
  const sorted = Float64Array.from(latencies).sort()
  return { offered: attempts.length, seconds, admitted, inWindow, refused, failed, p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
}

function admissionText (a: Admission, maxRate?: number): string {
  const rate = `--max-connect-rate ${maxRate ?? `${RATE_FRACTION} x capacity`}`
  return a === 'none' ? 'none' : a === 'rate' ? rate : `${rate} --max-handshakes ${MAX_HANDSHAKES}`
}

function admissionOptions (a: Admission, maxRate: number): Record<string, number> {
  return a === 'none' ? {} : a === 'rate' ? { maxConnectRate: maxRate } : { maxConnectRate: maxRate, maxHandshakes: MAX_HANDSHAKES }
}

/** goodput as a share of the capacity measured just before the offer (the machine's spare CPU drifts) */
export function share (r: OfferResult): number { return goodput(r) / r.capacity }

export function markdownTable (results: readonly OfferResult[]): string {
  const lines = [
    '| offered | admission | capacity just before | offered/s | goodput (CONNACK/s) | goodput / capacity | vs 1x | p99 connect | refused at accept | failed (gave up, timed out) | broker CPU per admitted car |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const r of results) {
    const base = results.find((b) => b.factor === 1 && b.admission === r.admission)
    lines.push(`| ${r.factor}x | ${admissionText(r.admission, r.maxRate)} | ${round(r.capacity, 0)}/s | ${round(r.offered / r.seconds, 0)} | ${round(goodput(r), 0)} | ${round(share(r), 2)} | ${base ? round(share(r) / share(base), 2) + 'x' : ''} | ${round(r.p99, 0)} ms | ${r.refused} | ${r.failed} | ${r.admitted ? round(r.brokerCpuMs / r.admitted, 2) + ' ms' : '-'} |`)
  }
  return lines.join('\n')
}

export async function run (opts: BenchOptions): Promise<BenchSection> {
  const seconds = opts.durationSeconds ?? (opts.quick ? 5 : DEFAULT_SECONDS)
  const limit = openFileLimit()
  const certs = await benchCerts(POOL, log)
  const cars = certs.vehicles.map((v) => stormCar(v.vin, contextOf({ ca: certs.ca, cert: v.cert, key: v.key })))
  // full handshakes only: capacity is what a storm of cars without a ticket costs
  const base = { tlsResumption: 'off' }
  const capacitySeconds = Math.min(seconds, 5)

  const results: OfferResult[] = []
  for (const factor of FACTORS) {
    for (const admission of ADMISSIONS) {
      // The capacity just before each offer, on a fresh broker without admission control: what the node
      // can handshake now, with whatever CPU this shared machine leaves it.
      let capacity: number
      {
        const broker = await startBrokerProc('fleetgate', certs.dir, [], base)
        try {
          await measureCapacity(broker, cars, 1) // warm-up
          capacity = await measureCapacity(broker, cars, capacitySeconds)
        } finally { await broker.stop() }
      }
      const maxRate = Math.max(1, Math.floor(capacity * RATE_FRACTION))
      const label = `bench: storm-overload: ${factor}x (capacity ${round(capacity, 0)}/s, offered ${round(factor * capacity, 0)}/s), admission: ${admissionText(admission, maxRate)} (load average ${loadavg()[0]!.toFixed(1)})`
      const worst = Math.ceil(factor * capacity * (CAR_TIMEOUT_MS / 1000)) + 1000
      if (worst > limit) log(`${label}: up to ${worst} connections may be open at once and this process may open ${limit} (ulimit -n): cars past it fail with EMFILE`)
      log(`${label}: ${seconds} s`)
      const broker = await startBrokerProc('fleetgate', certs.dir, [], { ...base, ...admissionOptions(admission, maxRate) })
      try {
        await measureCapacity(broker, cars, 1) // warm-up
        await sleep(500)
        const meter = cpuMeter({ broker: broker.pid })
        const r = await offer(broker, cars, factor * capacity, seconds, label)
        const cpu = meter()
        const result: OfferResult = { factor, admission, capacity, maxRate: admission === 'none' ? undefined : maxRate, ...r, brokerCpuMs: cpu.broker! }
        results.push(result)
        log(`${label}: goodput ${round(goodput(result), 0)}/s (${round(share(result), 2)} of capacity), p99 ${round(r.p99, 0)} ms, ${r.refused} refused at accept, ${r.failed} failed`)
      } finally { await broker.stop() }
    }
  }
  const table = markdownTable(results)
  log('bench: storm-overload:\n' + table)

  const at = (factor: number, admission: Admission) => results.find((r) => r.factor === factor && r.admission === admission)!
  const full = admissionText('rate+handshakes')
  const rateOnly = admissionText('rate')
  const rows: BenchSection['rows'] = [
    { metric: `storm-overload goodput / capacity at 3x offered load, ${full} (baseline: the same at 1x)`, fleetgate: round(share(at(3, 'rate+handshakes')), 2), baseline: round(share(at(1, 'rate+handshakes')), 2), unit: '', target: '>= 0.8x' },
    { metric: `storm-overload goodput / capacity at 3x offered load, ${rateOnly} alone (baseline: the same at 1x)`, fleetgate: round(share(at(3, 'rate')), 2), baseline: round(share(at(1, 'rate')), 2), unit: '', target: '>= 0.8x' },
    { metric: 'storm-overload goodput / capacity at 3x offered load, no admission control (baseline: the same at 1x): the collapse', fleetgate: round(share(at(3, 'none')), 2), baseline: round(share(at(1, 'none')), 2), unit: '' },
    { metric: `storm-overload goodput at 3x, ${full} (baseline: no admission control at 3x)`, fleetgate: round(goodput(at(3, 'rate+handshakes')), 0), baseline: round(goodput(at(3, 'none')), 0), unit: '/s' },
    { metric: `storm-overload p99 connect time of admitted cars at 3x, ${full} (baseline: no admission control)`, fleetgate: round(at(3, 'rate+handshakes').p99, 0), baseline: round(at(3, 'none').p99, 0), unit: 'ms' },
  ]
  const notes = [
    table.split('\n').join(' / '),
    `capacity: full TLS handshakes (--tls-resumption off) + CONNECT + CONNACK per second, ${CAPACITY_CONCURRENCY} cars in flight back to back for ${capacitySeconds} s, measured on a fresh broker without admission control just before each offer (this machine's spare CPU drifts by 3x within minutes; each row is judged against its own capacity); the offer then runs on its own fresh broker (fleetgate startBroker, embedded store, audit at info to /dev/null) warmed up for 1 s; --max-connect-rate = ${RATE_FRACTION} x that capacity`,
    `offer: cars arrive at factor x capacity per second for ${seconds} s, open loop; a car that gets CONNACK 0 leaves at once; a car gives up after ${CAR_TIMEOUT_MS / 1000} s; goodput = cars with CONNACK 0 within the ${seconds} s of the offer, per second (the backlog answered after it is not counted); p99 = tls.connect to CONNACK of those cars; refused at accept = reset before any TLS byte from the broker; failed = gave up, or closed by the broker's --handshake-timeout (5 s) or mid-connect`,
    `the ${POOL} cars (distinct certificates) and the broker share this machine's ${cpus().length} cores (and whatever else runs on it: load average ${loadavg().map((l) => l.toFixed(1)).join(' / ')} at the end): the cars' own handshakes cost CPU too`,
  ]
  return { title: `Storm overload (${seconds} s per offer)`, rows, notes }
}
