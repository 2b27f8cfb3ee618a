// `npm run bench -- reconnect-storm [--cars N]` (issue 17 item 5): N cars
// (default 10,000, certificates made once and cached) connect, the network drops
// them all at once, and all reconnect at once. Five servers in one run, one after
// the other, each in its own process: fleetgate with TLS resumption, fleetgate
// without, bare Aedes with tickets on, the system Mosquitto (skipped with a note
// when not installed), and Node's TLS floor (a tls.Server with the same options
// answering CONNACK by hand, no MQTT broker: the ceiling of any broker on Node). The cars run in this process (bench/lib/storm-client.ts).
//
// Per broker: a warm-up; every car connects (full handshakes), each keeping the
// TLS session the broker gave it; fleetgate only: 1 % of the cars are revoked
// (embedded store, as `fleetgate revoke`), so they hold a ticket from before their
// revocation; every connection is dropped by the cars at once (as a network
// outage; the broker sees each close) and the bench waits until the broker holds
// none; then the storm: every car reconnects offering its session. Twice (a
// second drop and storm, with the tickets of the first), the faster storm
// reported, as the other sections report the best of their rounds. Measured in
// each storm: time until every car is back, connects/s, p50/p99 connect latency,
// the broker's CPU per car (/proc, the broker's process alone), connection
// errors, and how many handshakes resumed (socket.isSessionReused()).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchSection, BenchOptions } from './types.js'
import { benchCerts } from './lib/certs.js'
import { startBrokerProc } from './lib/broker-proc.js'
import { contextOf } from './lib/mqtt-raw.js'
import { cpuMeter } from './lib/cpu.js'
import { round } from './lib/stats.js'
import { findMosquitto, mosquittoVersion, startMosquitto } from './lib/mosquitto.js'
import { connectWave, dropAll, latencyOf, listenDrops, openFileLimit, stormCar, waitReleased, type StormCar, type WaveResult } from './lib/storm-client.js'
import { openRevocationStore, parsePemCertificates, sha256Hex } from '../src/index.js'
import { devPkiPaths } from '../src/testing.js'
import { progressPrinter } from '../src/cli/index.js'

const log = (line: string) => process.stderr.write(line + '\n')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** connects in flight from the cars at most; the others wait in the cars' queue */
const CONCURRENCY = 256
/** a car whose connect fails tries again (without its session) this many times */
const RETRIES = 2
const ATTEMPT_TIMEOUT_MS = 20_000
const TARGET_SECONDS_PER_10K = 15
/** cars of each broker's warm-up */
const WARM_CARS = 200
/** storms per broker; the fastest is reported */
const STORMS = 2

type VariantKey = 'fgOn' | 'fgOff' | 'bare' | 'mosquitto' | 'tlsFloor'

interface Variant {
  readonly key: VariantKey
  readonly name: string
  /** the broker refuses revoked certificates (the fleetgate variants) */
  readonly revokes: boolean
}

interface Broker { readonly port: number; readonly pid: number | undefined; stop (): Promise<void> }

interface Storm {
  readonly wave: WaveResult
  /** the broker's CPU over the storm, ms */
  readonly brokerCpuMs: number
  /** the cars' (this process's) CPU over the storm, ms */
  readonly carsCpuMs: number
  /** SYNs dropped on a full accept queue during the storm (machine-wide) */
  readonly synDrops: number
  /** the broker still held connections this long after the drop before it (ms) */
  readonly dropMs: number
}

interface VariantResult {
  readonly variant: Variant
  readonly first: WaveResult
  readonly storms: readonly Storm[]
  /** the fastest storm */
  readonly best: Storm
  /** revoked cars whose live connection the broker closed before the drop, and how long the bench waited for them (ms) */
  readonly closedLive: number
  readonly liveCloseMs: number
}

/** What a handshake count says: "resumed", "full" or "R % resumed". */
export function handshakeKind (resumed: number, answered: number): string {
  if (answered === 0) return 'no handshake'
  if (resumed === 0) return 'full, never resumed'
  if (resumed === answered) return 'resumed'
  return `${round((100 * resumed) / answered, 1)} % resumed`
}

/** the fleetgate option that turns TLS resumption on or off (--tls-resumption) */
function resumptionOption (on: boolean): { tlsResumption: 'on' | 'off' } {
  return { tlsResumption: on ? 'on' : 'off' }
}

function countBy<T> (xs: readonly T[], f: (x: T) => boolean): number {
  let n = 0
  for (const x of xs) if (f(x)) n++
  return n
}

async function startVariant (v: Variant, pkiDir: string, dataDir: string, mosquittoBin: string | undefined): Promise<Broker> {
  if (v.key === 'bare') return await startBrokerProc('bare-resume', pkiDir)
  if (v.key === 'tlsFloor') return await startBrokerProc('tls-floor', pkiDir)
  if (v.key === 'mosquitto') {
    const pki = devPkiPaths(pkiDir, [])
    return await startMosquitto(mosquittoBin!, { ca: pki.root.cert, cert: pki.broker.cert, key: pki.broker.key })
  }
  return await startBrokerProc('fleetgate', pkiDir, [], { dataDir, ...resumptionOption(v.key === 'fgOn') })
}

async function runVariant (v: Variant, cars: readonly StormCar[], revoked: ReadonlySet<number>, fingerprints: readonly string[], pkiDir: string, mosquittoBin: string | undefined): Promise<VariantResult> {
  const n = cars.length
  const deadlineMs = 60_000 + 20 * n
  for (const c of cars) { c.session = undefined; c.socket = undefined }
  const dataDir = mkdtempSync(join(tmpdir(), 'fg-bench-storm-data-'))
  const broker = await startVariant(v, pkiDir, dataDir, mosquittoBin)
  const label = `bench: reconnect-storm: ${v.name}`
  try {
    // warm-up, both sides: the connect path's lazily loaded code and JIT, full handshakes then resumed ones
    const warm = cars.slice(0, Math.min(WARM_CARS, n))
    for (const offer of [false, true]) {
      await connectWave(broker.port, warm, { offer, concurrency: 32, deadlineMs: 60_000, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, retries: 0 })
      dropAll(warm)
      await waitReleased(broker.port, 10_000)
    }
    for (const c of warm) c.session = undefined

    log(`${label}: ${n} cars connect (full handshakes, ${CONCURRENCY} in flight)`)
    const first = await connectWave(broker.port, cars, { offer: false, concurrency: CONCURRENCY, deadlineMs, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, retries: RETRIES, progress: progressPrinter(`${label}: first connect`) })

    let closedLive = 0
    let liveCloseMs = 0
    if (v.revokes) {
      log(`${label}: revoking ${revoked.size} cars (1 %) in the embedded store; they keep the session ticket they got while valid`)
      const liveRevoked = () => countBy([...revoked], (i) => cars[i]!.socket !== undefined)
      const before = liveRevoked()
      const tr = Date.now()
      const store = await openRevocationStore({ dataDir })
      try {
        await store.revoke(fingerprints.map((fingerprint) => ({ fingerprint })), { reason: 'keyCompromise', revokedAt: new Date().toISOString() })
      } finally { await store.close() }
      // the broker closes their live sessions (README: within a second); bounded wait
      for (let i = 0; i < 200 && liveRevoked() > 0; i++) await sleep(50)
      closedLive = before - liveRevoked()
      liveCloseMs = Date.now() - tr
      log(`${label}: ${closedLive}/${before} revoked cars' live sessions closed by the broker in ${liveCloseMs} ms`)
    }

    const storms: Storm[] = []
    for (let k = 1; k <= STORMS; k++) {
      log(`${label}: the network drops every car`)
      const t0 = Date.now()
      dropAll(cars)
      await waitReleased(broker.port, 30_000)
      const dropMs = Date.now() - t0
      await sleep(1000) // let the broker finish its session clean-up before the CPU meter starts

      log(`${label}: storm ${k}/${STORMS}: ${n} cars reconnect at once (${CONCURRENCY} in flight), offering their last TLS session`)
      const meter = cpuMeter({ broker: broker.pid, cars: process.pid })
      const drops0 = listenDrops()
      const wave = await connectWave(broker.port, cars, { offer: true, concurrency: CONCURRENCY, deadlineMs, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, retries: RETRIES, progress: progressPrinter(`${label}: storm ${k}/${STORMS}`) })
      const cpu = meter()
      storms.push({ wave, brokerCpuMs: cpu.broker!, carsCpuMs: cpu.cars!, synDrops: listenDrops() - drops0, dropMs })
      log(`${label}: storm ${k}/${STORMS}: ${wave.seconds.toFixed(2)} s, ${countBy(wave.last, (a) => a.reused)} resumed`)
    }
    const best = storms.reduce((a, b) => b.wave.seconds < a.wave.seconds ? b : a)
    return { variant: v, first, storms, best, closedLive, liveCloseMs }
  } finally {
    dropAll(cars)
    await broker.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

export async function run (opts: BenchOptions): Promise<BenchSection> {
  const n = opts.cars ?? (opts.quick ? 1000 : 10_000)
  const limit = openFileLimit()
  if (n + 1000 > limit) throw new Error(`--cars ${n} needs ${n + 1000} open files and this process may open ${limit} (ulimit -n)`)
  const certs = await benchCerts(n, log)
  log(`bench: reconnect-storm: ${n} TLS client contexts`)
  const cars = certs.vehicles.map((v) => stormCar(v.vin, contextOf({ ca: certs.ca, cert: v.cert, key: v.key })))
  // 1 % of the cars, spread over the queue
  const nRevoked = Math.max(1, Math.round(n / 100))
  const revoked = new Set(Array.from({ length: nRevoked }, (_, i) => Math.floor((i * n) / nRevoked)))
  const fingerprints = [...revoked].map((i) => sha256Hex(parsePemCertificates(certs.vehicles[i]!.cert.toString('utf8'), `bench vehicle ${certs.vehicles[i]!.vin}`)[0]!))
  const mosquittoBin = findMosquitto()
  const variants: Variant[] = [
    { key: 'fgOn', name: 'fleetgate, resumption on', revokes: true },
    { key: 'fgOff', name: 'fleetgate, resumption off', revokes: true },
    { key: 'bare', name: 'bare Aedes, tickets on', revokes: false },
    ...(mosquittoBin ? [{ key: 'mosquitto', name: mosquittoVersion(mosquittoBin).replace(/^mosquitto version/i, 'Mosquitto'), revokes: false } as const] : []),
    { key: 'tlsFloor', name: 'Node TLS floor (no broker)', revokes: false },
  ]
  const notes: string[] = []

  const results = new Map<VariantKey, VariantResult>()
  const t0 = Date.now()
  for (const v of variants) {
    try {
      results.set(v.key, await runVariant(v, cars, revoked, fingerprints, certs.dir, mosquittoBin))
    } catch (err) {
      // the system Mosquitto is optional: one that does not start (or fails) is a note, not a failed bench
      if (v.key !== 'mosquitto') throw err
      log(`bench: reconnect-storm: ${v.name} failed: ${String(err)}`)
      notes.push(`${v.name}: skipped, it failed: ${String(err).slice(0, 300)}`)
    }
  }
  log(`bench: reconnect-storm: ${variants.length} brokers in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  // --- what each broker did ---
  const answered = (w: WaveResult) => countBy(w.last, (a) => a.rc >= 0)
  const resumed = (w: WaveResult) => countBy(w.last, (a) => a.rc >= 0 && a.reused)
  const kind = (r: VariantResult) => handshakeKind(resumed(r.best.wave), answered(r.best.wave))
  /** cars expected back: all, less the revoked ones where the broker refuses them */
  const expected = (r: VariantResult) => r.variant.revokes ? n - revoked.size : n
  const back = (w: WaveResult) => countBy(w.last, (a) => a.rc === 0)
  const missing = (r: VariantResult) => countBy(r.best.wave.last.filter((_, i) => !(r.variant.revokes && revoked.has(i))), (a) => a.rc !== 0)
  /** revoked cars admitted, over every storm */
  const revokedAdmitted = (r: VariantResult) => r.storms.reduce((sum, st) => sum + countBy([...revoked], (i) => st.wave.last[i]!.rc === 0), 0)
  const rate = (st: Storm) => answered(st.wave) / st.wave.seconds
  const cpuPerCar = (st: Storm) => st.brokerCpuMs / n
  const errors = (w: WaveResult) => [...w.errors.values()].reduce((a, b) => a + b, 0)
  const errorText = (w: WaveResult) => w.errors.size === 0 ? '0 connection errors' : `${errors(w)} connection errors (${[...w.errors].map(([k, c]) => `${k} ${c}`).join(', ')})`
  const protocols = (w: WaveResult) => [...new Set(w.last.map((a) => a.protocol).filter((p) => p !== undefined))].join('/') || 'no TLS'

  for (const r of results.values()) {
    const b = r.best
    const lat = latencyOf(b.wave.last)
    const refused = countBy(b.wave.last, (a) => a.rc > 0)
    const others = r.storms.filter((st) => st !== b).map((st) => `${round(st.wave.seconds, 2)} s, ${resumed(st.wave)} resumed, ${round(cpuPerCar(st), 3)} ms broker CPU per car`)
    notes.push(`${r.variant.name}: storm ${round(b.wave.seconds, 2)} s, ${round(rate(b), 0)} connects/s, connect p50 ${round(lat.p50, 1)} ms / p99 ${round(lat.p99, 1)} ms, ` +
      `CPU per car: broker ${round(cpuPerCar(b), 3)} ms, cars ${round(b.carsCpuMs / n, 3)} ms; handshakes (${protocols(b.wave)}): ${resumed(b.wave)} resumed, ${answered(b.wave) - resumed(b.wave)} full; ` +
      `${back(b.wave)}/${expected(r)} back, ${refused} refused (CONNACK != 0), ${errorText(b.wave)}${b.wave.timedOut ? ', STORM TIMED OUT' : ''}, ${b.synDrops} SYNs dropped on a full accept queue; ` +
      `broker let go of the dropped connections in ${b.dropMs} ms; the other storm${others.length === 1 ? '' : 's'}: ${others.join('; ') || 'none'}; ` +
      `first connect ${round(r.first.seconds, 2)} s (${round(n / r.first.seconds, 0)}/s, ${resumed(r.first)} resumed, ${errorText(r.first)})` +
      (r.variant.revokes ? `; ${r.closedLive}/${revoked.size} revoked cars' live sessions closed by the broker within ${r.liveCloseMs} ms of the revoke, ${revokedAdmitted(r)} admitted in ${STORMS} storms` : ''))
  }

  // --- the targets ---
  const rows: BenchSection['rows'] = []
  const on = results.get('fgOn')!
  const off = results.get('fgOff')!
  const bare = results.get('bare')!
  const mosq = results.get('mosquitto')
  const tlsFloor = results.get('tlsFloor')
  const stormTarget = (TARGET_SECONDS_PER_10K * n) / 10_000
  const short = missing(on)
  rows.push({
    metric: `reconnect storm, ${n} cars, fleetgate resumption on [${kind(on)}]: time until every car is back${short ? ` (${short} NEVER BACK)` : ''} (baseline: ${TARGET_SECONDS_PER_10K} s per 10,000 cars)`,
    fleetgate: round(on.best.wave.seconds, 2), baseline: round(stormTarget, 2), unit: 's', target: '<= 1x',
    ...(short ? { ratio: Infinity } : {}),
  })
  const admitted = revokedAdmitted(on) + revokedAdmitted(off)
  rows.push({
    metric: `cars revoked before the storms and admitted in them, fleetgate on + off (baseline: ${revoked.size} revoked cars x ${STORMS} storms x 2 brokers)`,
    fleetgate: admitted, baseline: 2 * STORMS * revoked.size, unit: 'cars', target: '<= 0x', ratio: admitted / (2 * STORMS * revoked.size),
  })
  const onLabel = `fleetgate on [${kind(on)}]`
  rows.push({ metric: `storm handshake + CONNECT/s, ${onLabel} (baseline: fleetgate off [${kind(off)}])`, fleetgate: round(rate(on.best), 0), baseline: round(rate(off.best), 0), unit: '/s', target: '>= 1.4x' })
  rows.push({ metric: `storm handshake + CONNECT/s, ${onLabel} (baseline: bare Aedes [${kind(bare)}])`, fleetgate: round(rate(on.best), 0), baseline: round(rate(bare.best), 0), unit: '/s', target: '>= 0.9x' })
  if (mosq) rows.push({ metric: `storm handshake + CONNECT/s, ${onLabel} (baseline: Mosquitto [${kind(mosq)}])`, fleetgate: round(rate(on.best), 0), baseline: round(rate(mosq.best), 0), unit: '/s', target: '>= 1.3x' })
  rows.push({ metric: `broker CPU per storm connect, ${onLabel} (baseline: fleetgate off [${kind(off)}])`, fleetgate: round(cpuPerCar(on.best), 3), baseline: round(cpuPerCar(off.best), 3), unit: 'ms', target: '<= 0.7x' })
  // no target: latency and the other brokers' storm time, side by side
  const latOn = latencyOf(on.best.wave.last)
  const latOff = latencyOf(off.best.wave.last)
  rows.push({ metric: `storm connect latency p50, ${onLabel} (baseline: fleetgate off)`, fleetgate: round(latOn.p50, 1), baseline: round(latOff.p50, 1), unit: 'ms' })
  rows.push({ metric: `storm connect latency p99, ${onLabel} (baseline: fleetgate off)`, fleetgate: round(latOn.p99, 1), baseline: round(latOff.p99, 1), unit: 'ms' })
  for (const r of [bare, ...(mosq ? [mosq] : [])]) {
    rows.push({ metric: `time until every car is back, ${onLabel} (baseline: ${r.variant.name} [${kind(r)}])`, fleetgate: round(on.best.wave.seconds, 2), baseline: round(r.best.wave.seconds, 2), unit: 's' })
  }
  // the ceiling: what Node's TLS stack alone does with these cars, against fleetgate and Mosquitto
  if (tlsFloor) {
    rows.push({ metric: `storm handshake + CONNECT/s, ${onLabel} (baseline: Node TLS floor, no broker [${kind(tlsFloor)}])`, fleetgate: round(rate(on.best), 0), baseline: round(rate(tlsFloor.best), 0), unit: '/s' })
    if (mosq) rows.push({ metric: `  the Node TLS floor itself [${kind(tlsFloor)}] (baseline: Mosquitto [${kind(mosq)}]): the most a broker on Node reaches here`, fleetgate: round(rate(tlsFloor.best), 0), baseline: round(rate(mosq.best), 0), unit: '/s' })
  }

  notes.push(`each broker: ${STORMS} storms (drop, then every car back), the faster one in the figures (as the other sections take the best of their rounds); the revoked cars are counted over all of them`)
  notes.push(`each broker first gets a warm-up of ${WARM_CARS} cars (full handshakes, then resumed ones), not measured`)
  if (mosq) notes.push(`Mosquitto listens with a backlog of 100 (its listen(2) call; Node's default is 511): with ${CONCURRENCY} connects in flight its accept queue can overflow, and each dropped SYN (counted above) costs its car the kernel's 1 s retry`)
  if (!mosquittoBin) notes.push('Mosquitto: skipped, no `mosquitto` on the PATH (Debian: apt-get install mosquitto)')
  notes.push(`cars: a raw MQTT 3.1.1 client over node:tls in the bench process (CONNECT/CONNACK by hand, one SecureContext per car made before timing), at most ${CONCURRENCY} connects in flight, the rest queued; each keeps the latest TLS session from its socket's 'session' event and offers it on its next connect; a failed connect is tried again up to ${RETRIES} times without its session; ${ATTEMPT_TIMEOUT_MS / 1000} s per connect, ${60 + (20 * n) / 1000} s per wave`)
  notes.push('storm: the cars drop every connection at once (a network outage; the broker sees each close), the bench waits until the broker holds none (/proc/net/tcp), then every car reconnects at once; time = first connect started to last car answered; connects/s = cars answered / that time; latency = tls.connect to CONNACK of each car\'s last attempt (its wait in the queue excluded); broker CPU = the broker process\'s user + system time over the storm (/proc), divided by the cars; cars CPU = this process\'s, over the same storm: the cars share the machine\'s cores with the broker; SYNs dropped = the kernel\'s ListenDrops counter over the storm (machine-wide): a dropped SYN costs its car 1 s')
  notes.push(`revocation: ${revoked.size} cars (1 %, spread over the queue) revoked by fingerprint in the fleetgate broker's embedded store (openRevocationStore, as \`fleetgate revoke\`) after the first connect, so each holds a session ticket from before its revocation; nothing else is revoked (no CA). bare Aedes and Mosquitto have no revocation: the same cars are admitted there and counted back`)
  notes.push('brokers: one at a time, each in its own process (fleetgate: startBroker, embedded store, audit log at info to /dev/null; bare Aedes: tls.createServer with fleetgate\'s TLS options less SSL_OP_NO_TICKET; Mosquitto: its own instance on an ephemeral loopback port, require_certificate, use_identity_as_username, the same certificates; Node TLS floor: bare Aedes\' tls.Server and options with no broker behind it, each connection\'s first bytes answered with a CONNACK written by hand); the brokers keep running through the drop, so no ticket keys file (tlsTicketKeys) is needed')
  return { title: `Reconnect storm (${n} cars)`, rows, notes }
}
