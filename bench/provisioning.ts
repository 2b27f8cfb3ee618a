// Provisioning (issue 7 "Speed"):
// (a) the provisioner's own rate on one core, CSR parsed and checked +
//     certificate built and signed, against the limit measured in the same run:
//     one node:crypto createPublicKey of the CSR's SPKI, one P-256 verify and
//     one sign per certificate. Target >= 0.5x.
// (b) a provisioning storm: N cars end to end (birth-certificate connect,
//     CSR, issue, reconnect with the new certificate) through `fleetgate serve`
//     + `fleetgate provisioner`, once on the embedded store and once on Redis,
//     against 2N full mTLS connects to bare Aedes (same TLS options and
//     certificates), alternating in rounds. Target <= 1.5x. Cars run in this
//     process with a lean raw-MQTT client; CPU per process per car is reported.
//     Each round also runs the floor: the same cars and exchange against bare
//     Aedes and a lean responder that only signs (bench/lib/floor-responder.ts),
//     i.e. what the exchange costs before fleetgate does any of its own work.
//     On Redis a second floor runs too: the same, with bare Aedes on
//     aedes-persistence-redis + mqemitter-redis (its own redis-server), so the
//     engine's share of the Redis store is told apart from fleetgate's.
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import { Redis } from 'ioredis'
import type { BenchSection } from './types.js'
import { benchCerts } from './lib/certs.js'
import { startBrokerProc, type BrokerMode, type BrokerProc } from './lib/broker-proc.js'
import { mqttConnect, pubackPacket, subscribePacket } from './lib/mqtt-raw.js'
import { round } from './lib/stats.js'
import { cpuMeter } from './lib/cpu.js'
import { freePort } from '../test/harness/ports.js'
import { startRedis } from '../test/harness/redis.js'
import {
  authorize, buildCsr, emptyTemplate, generateKey, loadIssuer, parsePemCsr, parseRequest, readPrivateKey, signRequest, subjectKeyOf, EKU_CLIENT_AUTH, type FastIssuer,
} from '../src/index.js'
import { devPkiPaths, randomVins } from '../src/testing.js'
import { progressPrinter } from '../src/cli/index.js'

const BIN = fileURLToPath(new URL('../../bin/fleetgate.js', import.meta.url))
const log = (line: string) => process.stderr.write(line + '\n')

// ---- (a) one core ----

function issuanceRate (issuer: FastIssuer, caKey: KeyObject, csrs: ReadonlyArray<{ vin: string; der: Buffer }>, iterations: number, rounds: number): { ours: number; limit: number } {
  let ours = 0
  let limit = 0
  const parsed = csrs.map((c) => ({ ...c, req: parseRequest(c.der)! }))
  for (let r = 0; r < rounds; r++) {
    // fleetgate: everything the provisioner does per certificate
    let t0 = performance.now()
    for (let i = 0; i < iterations; i++) {
      const c = csrs[i % csrs.length]!
      const d = signRequest(issuer, authorize({ vin: c.vin, lifetimeMs: 30 * 86_400_000, organization: issuer.organization }), c.vin, c.der)
      if (!d.ok) throw new Error(`bench CSR refused: ${d.reason}`)
    }
    ours = Math.max(ours, iterations / ((performance.now() - t0) / 1000))
    // the limit: import the SPKI, verify the CSR, sign (the same sizes)
    t0 = performance.now()
    for (let i = 0; i < iterations; i++) {
      const c = parsed[i % parsed.length]!
      const key = createPublicKey({ key: c.req.spkiDer, format: 'der', type: 'spki' })
      if (!verify('sha256', c.req.signedDer, { key, dsaEncoding: 'der' }, c.req.signature)) throw new Error('bench CSR does not verify')
      sign('sha256', c.req.signedDer, { key: caKey, dsaEncoding: 'der' })
    }
    limit = Math.max(limit, iterations / ((performance.now() - t0) / 1000))
  }
  return { ours, limit }
}

// ---- (b) the storm ----

interface Car {
  readonly vin: string
  readonly birth: SecureContext
  readonly keyPem: string
  readonly csr: string
}

/** birth certificates from the manufacturing CA, made with the fast issuer (pki issue --role factory would take ~5 ms each) */
function makeCars (dir: string, n: number): Car[] {
  const pki = devPkiPaths(dir, [])
  const factory = loadIssuer(pki.manufacturing.cert, pki.manufacturing.key)
  const manufacturingPem = readFileSync(pki.manufacturing.cert, 'utf8')
  const ca = readFileSync(pki.root.cert)
  const t = emptyTemplate()
  t.organization = factory.organization; t.organizationalUnit = 'factory'; t.extKeyUsage = [EKU_CLIENT_AUTH]; t.lifetimeMs = 10 * 365 * 86_400_000
  return randomVins(n).map((vin) => {
    const birthKey = generateKey()
    const leaf = factory.issue(subjectKeyOf(birthKey), { ...t, commonName: vin })
    const key = generateKey()
    return {
      vin,
      birth: createSecureContext({ ca, cert: leaf.pem + manufacturingPem, key: birthKey.export({ type: 'pkcs8', format: 'pem' }) }),
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
      csr: buildCsr(key, [['CN', vin]]),
    }
  })
}

/** read MQTT packets from a socket until `want` says done */
function packets (s: TLSSocket, want: (p: mqttPacket.Packet) => boolean, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    const t = setTimeout(() => { s.off('data', onData); reject(new Error('no answer in time')) }, ms)
    parser.on('packet', (p) => { if (want(p)) { clearTimeout(t); s.off('data', onData); resolve() } })
    parser.on('error', (err) => { clearTimeout(t); reject(err) })
    const onData = (d: Buffer) => { parser.parse(d) }
    s.on('data', onData)
    s.once('close', () => { clearTimeout(t); reject(new Error('closed')) })
  })
}

/** one car, end to end: birth connect, subscribe, request, response, reconnect with the new certificate */
/** where a storm car's time goes through fleetgate (summed over cars, ms): reported in the notes */
const phases = { connect: 0, suback: 0, response: 0, reconnect: 0 }
type Phases = typeof phases
async function provisionCar (port: number, car: Car, rootCa: Buffer, phases: Phases = { connect: 0, suback: 0, response: 0, reconnect: 0 }): Promise<void> {
  let t = performance.now()
  const s = await mqttConnect(port, car.birth, car.vin)
  phases.connect += performance.now() - t; t = performance.now()
  const resTopic = `provisioning/${car.vin}/response`
  let response: { status?: string; certificate?: string; chain?: string; reason?: string } = {}
  const got = packets(s, (p) => {
    if (p.cmd === 'suback') {
      phases.suback += performance.now() - t; t = performance.now()
      s.write(mqttPacket.generate({ cmd: 'publish', topic: `provisioning/${car.vin}/request`, qos: 1, messageId: 2, retain: false, dup: false, payload: JSON.stringify({ v: 1, nonce: `bench-${car.vin}`, csr: car.csr }) }))
      return false
    }
    if (p.cmd === 'publish' && p.topic === resTopic) {
      if (p.qos === 1) s.write(pubackPacket(p.messageId!))
      response = JSON.parse(p.payload.toString()) as typeof response
      return true
    }
    return false
  }, 30_000)
  s.write(subscribePacket(resTopic, 1))
  await got
  phases.response += performance.now() - t; t = performance.now()
  s.destroy()
  if (response.status !== 'issued') throw new Error(`car ${car.vin}: ${response.reason ?? 'no certificate'}`)
  const ctx = createSecureContext({ ca: rootCa, cert: response.certificate! + response.chain!, key: car.keyPem })
  const s2 = await mqttConnect(port, ctx, car.vin)
  phases.reconnect += performance.now() - t
  s2.destroy()
}

async function inFlight<T> (items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>, progress: (done: number, total: number) => void): Promise<number> {
  let next = 0
  let done = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const item = items[next++]!
      await fn(item)
      progress(++done, items.length)
    }
  }))
  return (performance.now() - t0) / 1000
}

function startChild (args: string[], ready: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    // diagnostics only: FG_BENCH_PROF_DIR=<dir> writes a V8 CPU profile of each child there
    const prof = process.env.FG_BENCH_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.FG_BENCH_PROF_DIR] : []
    const child = spawn(process.execPath, [...prof, BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args[0]} did not start: ${err}`)) }, 30_000)
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString()
      if (ready.test(err)) { clearTimeout(t); resolve(child) }
    })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${args[0]} exited ${code}: ${err}`)) })
  })
}

interface Floor { readonly port: number; readonly brokerPid: number | undefined; readonly responderPid: number | undefined; stop (): Promise<void> }

/** the floor: a bare Aedes of its own (the baseline's broker keeps no subscribers) and the lean responder */
async function startFloor (dir: string, bareMode: BrokerMode, options?: Record<string, string>): Promise<Floor> {
  const broker = await startBrokerProc(bareMode, dir, [], options)
  const responder = fork(fileURLToPath(new URL('./lib/floor-responder.js', import.meta.url)), [String(broker.port), dir], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('floor responder did not subscribe in 30 s')), 30_000)
      responder.once('message', () => { clearTimeout(t); resolve() })
      responder.once('exit', (code) => { clearTimeout(t); reject(new Error(`floor responder exited ${code}`)) })
    })
  } catch (err) {
    responder.kill('SIGKILL')
    await broker.stop()
    throw err
  }
  return {
    port: broker.port,
    brokerPid: broker.pid,
    responderPid: responder.pid,
    stop: async () => { await stop(responder); await broker.stop() },
  }
}

/** Redis's own count of each command it ran */
async function commandStats (url: string): Promise<Map<string, number>> {
  const r = new Redis(url)
  try {
    const info = await r.info('commandstats')
    return new Map([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]))
  } finally { r.disconnect() }
}

async function commandsPerCar (url: string, cars: number, before: Map<string, number>): Promise<string> {
  const after = await commandStats(url)
  const per = [...after].map(([cmd, n]) => [cmd, (n - (before.get(cmd) ?? 0)) / cars] as const).filter(([, n]) => n >= 0.05).sort((a, b) => b[1] - a[1])
  const total = per.reduce((t, [, n]) => t + n, 0)
  return `${total.toFixed(1)} (${per.map(([c, n]) => `${c} ${n.toFixed(1)}`).join(', ')})`
}

async function stop (child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(t); resolve() })
    child.kill('SIGTERM')
  })
}

type Store = 'redis' | 'file'

interface StormResult {
  fleetSeconds: number
  floorSeconds: number
  /** the floor on Redis (Redis store only; 0 otherwise) */
  floorRedisSeconds: number
  bareSeconds: number
  /** fleetgate / bare, per round */
  roundRatios: number[]
  fleetCpu: Record<string, number>
  floorCpu: Record<string, number>
  floorRedisCpu: Record<string, number>
  bareCpu: Record<string, number>
  redisCalls: string
}

function addCpu (into: Record<string, number>, add: Record<string, number>): void {
  for (const [k, v] of Object.entries(add)) into[k] = (into[k] ?? 0) + v
}

/**
 * The storm on one store, in rounds: each round's cars through fleetgate, then
 * through the floor, then twice as many connects to bare Aedes (the other way
 * round every other round), so drift in this machine's speed (it is shared) and
 * the cost of going first fall on all three alike.
 */
async function storm (store: Store, dir: string, cars: Car[], rounds: number, concurrency: number, bare: BrokerProc, floor: Floor, tickets: boolean): Promise<StormResult> {
  const pki = devPkiPaths(dir, [])
  const rootCa = readFileSync(pki.root.cert)
  const redis = store === 'redis' ? await startRedis() : undefined
  const floorRedisServer = store === 'redis' ? await startRedis() : undefined
  let floorRedis: Floor | undefined
  let serve: ChildProcess | undefined
  let prov: ChildProcess | undefined
  const out: StormResult = { fleetSeconds: 0, floorSeconds: 0, floorRedisSeconds: 0, bareSeconds: 0, roundRatios: [], fleetCpu: {}, floorCpu: {}, floorRedisCpu: {}, bareCpu: {}, redisCalls: '' }
  try {
    if (floorRedisServer) floorRedis = await startFloor(dir, tickets ? 'bare-redis-resume' : 'bare-redis', { redis: floorRedisServer.url })
    const port = await freePort()
    const where = redis ? ['--redis', redis.url] : ['--data-dir', mkdtempSync(join(tmpdir(), 'fg-bench-storm-'))]
    serve = await startChild(['serve', '--port', String(port), '--host', '127.0.0.1', '--ca', pki.root.cert,
      '--cert', pki.broker.cert, '--key', pki.broker.key, ...where,
      '--max-connections-per-ip', '100000', ...(tickets ? [] : ['--tls-resumption', 'off'])], /mTLS MQTT on/)
    prov = await startChild(['provisioner', '--url', `mqtts://127.0.0.1:${port}`, '--ca', pki.root.cert,
      '--cert', pki.provisioner.cert, '--key', pki.provisioner.key,
      '--issuer-cert', pki.issuing.cert, '--issuer-key', pki.issuing.key,
      ...where, '--rate-limit', '100/h'], /fleetgate provisioner: /)
    const warm = makeCars(dir, 10)
    await inFlight(warm, 5, (c) => provisionCar(port, c, rootCa), () => {})
    await inFlight(warm, 5, (c) => provisionCar(floor.port, c, rootCa), () => {})
    if (floorRedis) await inFlight(warm, 5, (c) => provisionCar(floorRedis!.port, c, rootCa), () => {})
    await inFlight(warm.flatMap((c) => [c, c]), 5, async (c) => { (await mqttConnect(bare.port, c.birth, c.vin)).destroy() }, () => {})
    for (const k of Object.keys(phases) as Array<keyof typeof phases>) phases[k] = 0
    const before = redis ? await commandStats(redis.url) : undefined
    const per = Math.ceil(cars.length / rounds)
    for (let r = 0; r < rounds; r++) {
      const batch = cars.slice(r * per, (r + 1) * per)
      if (batch.length === 0) break
      const label = `bench: storm, ${store === 'redis' ? 'Redis' : 'embedded'} store, round ${r + 1}/${rounds}`
      let f = 0
      let fl = 0
      let flr = 0
      let b = 0
      const fleet = async () => {
        const meter = cpuMeter({ cars: process.pid, broker: serve!.pid, provisioner: prov!.pid, ...(redis ? { redis: redis.process.pid } : {}) })
        f = await inFlight(batch, concurrency, (c) => provisionCar(port, c, rootCa, phases), progressPrinter(`${label}: fleetgate + provisioner`))
        addCpu(out.fleetCpu, meter())
      }
      const floorRun = async () => {
        const meter = cpuMeter({ cars: process.pid, broker: floor.brokerPid, responder: floor.responderPid })
        fl = await inFlight(batch, concurrency, (c) => provisionCar(floor.port, c, rootCa), progressPrinter(`${label}: the floor (bare Aedes + a responder that only signs)`))
        addCpu(out.floorCpu, meter())
      }
      const floorRedisRun = async () => {
        if (!floorRedis || !floorRedisServer) return
        const meter = cpuMeter({ cars: process.pid, broker: floorRedis.brokerPid, responder: floorRedis.responderPid, redis: floorRedisServer.process.pid })
        flr = await inFlight(batch, concurrency, (c) => provisionCar(floorRedis!.port, c, rootCa), progressPrinter(`${label}: the floor on Redis (bare Aedes on aedes-persistence-redis + mqemitter-redis + the responder)`))
        addCpu(out.floorRedisCpu, meter())
      }
      const bareRun = async () => {
        const meter = cpuMeter({ cars: process.pid, broker: bare.pid })
        const twice = batch.flatMap((c) => [c, c])
        b = await inFlight(twice, concurrency, async (c) => { (await mqttConnect(bare.port, c.birth, c.vin)).destroy() }, progressPrinter(`${label}: 2 mTLS connects per car to bare Aedes`))
        addCpu(out.bareCpu, meter())
      }
      // the order alternates, so what running first or last costs falls on every run alike
      for (const phase of r % 2 === 0 ? [fleet, floorRun, floorRedisRun, bareRun] : [bareRun, floorRedisRun, floorRun, fleet]) await phase()
      out.fleetSeconds += f
      out.floorSeconds += fl
      out.floorRedisSeconds += flr
      out.bareSeconds += b
      out.roundRatios.push(f / b)
    }
    if (redis && before) out.redisCalls = await commandsPerCar(redis.url, cars.length, before)
  } finally {
    await stop(prov)
    await stop(serve)
    await floorRedis?.stop()
    await redis?.stop()
    await floorRedisServer?.stop()
  }
  return out
}

export async function run (opts: { quick: boolean }): Promise<BenchSection> {
  const q = opts.quick
  const P = { iterations: q ? 1000 : 5000, rounds: q ? 2 : 3, cars: Number(process.env.FG_BENCH_STORM_CARS ?? (q ? 200 : 2000)), stormRounds: q ? 2 : 4, concurrency: 50 }
  // FG_BENCH_STORM_STORE=redis|file: one store only (diagnostics)
  const stores: Store[] = process.env.FG_BENCH_STORM_STORE === 'file' ? ['file'] : process.env.FG_BENCH_STORM_STORE === 'redis' ? ['redis'] : ['file', 'redis']
  // Like with like: `fleetgate serve` seals TLS session tickets by default (two per full
  // handshake), so the bare Aedes of the baseline and of the floor seal them too (Node's own
  // key). FG_BENCH_STORM_TICKETS=off (diagnostics): all three without.
  const tickets = process.env.FG_BENCH_STORM_TICKETS !== 'off'
  const bareMode: BrokerMode = tickets ? 'bare-resume' : 'bare'
  const certs = await benchCerts(1, log)
  const dir = certs.dir
  const rows: BenchSection['rows'] = []
  const notes: string[] = []

  // (a)
  log(`bench: provisioner rate on one core (${P.iterations} certificates x ${P.rounds} rounds)`)
  const pki = devPkiPaths(dir, [])
  const issuer = loadIssuer(pki.issuing.cert, pki.issuing.key)
  const caKey = readPrivateKey(pki.issuing.key)
  const csrs = randomVins(200).map((vin) => ({ vin, der: parsePemCsr(buildCsr(generateKey(), [['O', 'ignored'], ['OU', 'fleet-backend'], ['CN', vin]]), 'bench CSR') }))
  issuanceRate(issuer, caKey, csrs, 200, 1) // warm-up
  const a = issuanceRate(issuer, caKey, csrs, P.iterations, P.rounds)
  rows.push({
    metric: 'provisioner: CSR checked + certificate issued, one core (limit: SPKI import + verify + sign)',
    fleetgate: round(a.ours, 0), baseline: round(a.limit, 0), unit: '/s', target: '>= 0.5x', ratio: round(a.ours / a.limit, 2),
  })

  // (b)
  log(`bench: provisioning storm of ${P.cars} cars (making ${P.cars} birth certificates and keys first)`)
  const cars = makeCars(dir, P.cars)
  const bare = await startBrokerProc(bareMode, dir)
  let floor: Floor | undefined
  const per = (v: number) => (v / P.cars).toFixed(1)
  const cpu = (c: Record<string, number>) => Object.entries(c).map(([k, v]) => `${k} ${per(v)}`).join(', ')
  try {
    floor = await startFloor(dir, bareMode)
    for (const store of stores) {
      const r = await storm(store, dir, cars, P.stormRounds, P.concurrency, bare, floor, tickets)
      const name = store === 'redis' ? 'Redis store: cluster mode, MQTT sessions in aedes-persistence-redis' : 'embedded store: one node, as `npm start`'
      rows.push({
        metric: `provisioning storm, ${P.cars} cars end to end, ${name} (baseline: ${2 * P.cars} mTLS connects to bare Aedes)`,
        fleetgate: round(r.fleetSeconds, 2), baseline: round(r.bareSeconds, 2), unit: 's', target: '<= 1.5x', ratio: round(r.fleetSeconds / r.bareSeconds, 2),
      })
      // no target: what the exchange itself costs here, and fleetgate's share above it
      rows.push({
        metric: `  its floor, same rounds: the same cars and exchange through bare Aedes + a responder that only signs (baseline: the same ${2 * P.cars} connects)`,
        fleetgate: round(r.floorSeconds, 2), baseline: round(r.bareSeconds, 2), unit: 's', ratio: round(r.floorSeconds / r.bareSeconds, 2),
      })
      rows.push({
        metric: `  fleetgate against that floor (${store === 'redis' ? 'Redis' : 'embedded'} store)`,
        fleetgate: round(r.fleetSeconds, 2), baseline: round(r.floorSeconds, 2), unit: 's', ratio: round(r.fleetSeconds / r.floorSeconds, 2),
      })
      // no target: the floor's broker keeps sessions in memory; this one shows the engine's own cost on Redis
      if (r.floorRedisSeconds > 0) {
        rows.push({
          metric: '  fleetgate against the floor on Redis (bare Aedes on aedes-persistence-redis + mqemitter-redis + the responder, same rounds)',
          fleetgate: round(r.fleetSeconds, 2), baseline: round(r.floorRedisSeconds, 2), unit: 's', ratio: round(r.fleetSeconds / r.floorRedisSeconds, 2),
        })
      }
      notes.push(`storm (${store}): per-round ratios ${r.roundRatios.map((x) => x.toFixed(2)).join(', ')}; mean per car: birth connect ${per(phases.connect)} ms, SUBACK ${per(phases.suback)} ms, request -> certificate ${per(phases.response)} ms, reconnect ${per(phases.reconnect)} ms`)
      notes.push(`storm (${store}), CPU ms per car: fleetgate: ${cpu(r.fleetCpu)}; floor: ${cpu(r.floorCpu)}${r.floorRedisSeconds > 0 ? `; floor on Redis: ${cpu(r.floorRedisCpu)}` : ''}; bare: ${cpu(r.bareCpu)}`)
      if (r.redisCalls) notes.push(`storm (${store}), Redis commands per car: ${r.redisCalls}`)
    }
  } finally {
    await floor?.stop()
    await bare.stop()
  }
  notes.push(tickets
    ? 'storm: TLS session tickets on everywhere (fleetgate serve\'s default; bare Aedes of the baseline and the floor with Node\'s own ticket key): each full handshake seals two tickets on every side'
    : 'storm: TLS session tickets off everywhere (FG_BENCH_STORM_TICKETS=off)')
  notes.push(`storm: ${P.concurrency} cars in flight, in ${P.stormRounds} rounds, each round through fleetgate, then the floor (then, on Redis, the floor on Redis), then bare Aedes (the reverse order every other round); one provisioner process; registry read + first_connect on every operational connect; keys and CSRs made before the clock starts`)
  notes.push('storm floor: no registry, nonces, rate limit, audit log or first_connect, and no fleetgate hooks; the cars do the same work (birth connect, SUBSCRIBE, request and response at QoS 1, a new TLS context, reconnect). A floor above 1.5x means no broker on Aedes can meet the storm target on this machine: the cars\' own share (a new TLS context, OpenSSL 3.0 decoders) and the exchange alone exceed it')
  return { title: 'Provisioning', rows, notes }
}
