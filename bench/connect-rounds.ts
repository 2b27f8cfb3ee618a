// `npm run bench -- connect-rounds` (issue 17, the connect-rate targets): the
// reconnect storm's servers side by side in alternating rounds, so that a shared
// machine's drift falls on all of them alike. All servers run at once, each in
// its own process: fleetgate (embedded store, resumption on), bare Aedes with
// tickets on, the Node TLS floor (no broker) and the system Mosquitto (skipped
// with a note when not installed). Each round deals every server, in turn (the
// order reversed every other round), a wave of full handshakes (no session
// offered) and then a wave of resumed ones (each car offers the ticket the full
// wave gave it): connects/s and the server's CPU per connect (/proc). The
// figures are the medians over the rounds. The cars are the storm's lean
// raw-MQTT client (bench/lib/storm-client.ts), 32 connects in flight.
import type { BenchOptions, BenchSection } from './types.js'
import { benchCerts } from './lib/certs.js'
import { startBrokerProc } from './lib/broker-proc.js'
import { contextOf } from './lib/mqtt-raw.js'
import { cpuMs } from './lib/cpu.js'
import { median, round } from './lib/stats.js'
import { findMosquitto, mosquittoVersion, startMosquitto } from './lib/mosquitto.js'
import { connectWave, dropAll, stormCar, waitReleased, type StormCar } from './lib/storm-client.js'
import { devPkiPaths } from '../src/testing.js'

const log = (line: string) => process.stderr.write(line + '\n')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const CONCURRENCY = 32

/** a server under test: a broker process or Mosquitto */
interface Server { readonly name: string; readonly port: number; readonly pid: number | undefined; stop (): Promise<void> }
interface Wave { readonly rate: number; readonly cpuMs: number; readonly answered: number; readonly resumed: number }
interface Tally { readonly full: Wave[]; readonly resumed: Wave[] }

/** one wave: every car connects (offering its last session or not), then every car drops and the server lets go */
async function wave (server: Server, cars: readonly StormCar[], offer: boolean): Promise<Wave> {
  const c0 = cpuMs(server.pid)
  const w = await connectWave(server.port, cars, { offer, concurrency: CONCURRENCY, deadlineMs: 60_000 + 20 * cars.length, attemptTimeoutMs: 20_000, retries: 0 })
  const cpu = cpuMs(server.pid) - c0
  const answered = w.last.filter((a) => a.rc === 0).length
  const resumed = w.last.filter((a) => a.rc === 0 && a.reused).length
  dropAll(cars)
  await waitReleased(server.port, 10_000)
  await sleep(300)
  return { rate: answered / w.seconds, cpuMs: answered > 0 ? cpu / answered : NaN, answered, resumed }
}

export async function run (opts: BenchOptions): Promise<BenchSection> {
  const n = opts.quick ? 500 : 2000
  const rounds = opts.quick ? 2 : 4
  const certs = await benchCerts(n, log)
  const pki = devPkiPaths(certs.dir, [])
  const contexts = certs.vehicles.map((v) => contextOf({ ca: certs.ca, cert: v.cert, key: v.key }))
  const notes: string[] = []
  const servers: Server[] = []
  try {
    for (const [mode, name] of [['fleetgate', 'fleetgate'], ['bare-resume', 'bare Aedes, tickets on'], ['tls-floor', 'Node TLS floor (no broker)']] as const) {
      const p = await startBrokerProc(mode, certs.dir)
      servers.push({ name, port: p.port, pid: p.pid, stop: p.stop })
    }
    const bin = findMosquitto()
    if (bin) {
      try {
        const m = await startMosquitto(bin, { ca: pki.root.cert, cert: pki.broker.cert, key: pki.broker.key })
        servers.push({ name: mosquittoVersion(bin).replace(/^mosquitto version/i, 'Mosquitto'), port: m.port, pid: m.pid, stop: m.stop })
      } catch (err) {
        notes.push(`Mosquitto: skipped, it did not start: ${String(err).slice(0, 200)}`)
      }
    } else notes.push('Mosquitto: skipped, no `mosquitto` on the PATH (Debian: apt-get install mosquitto)')

    // each server has its own cars (the tickets are per server), sharing the TLS contexts
    const carsOf = new Map(servers.map((s) => [s, certs.vehicles.map((v, i) => stormCar(v.vin, contexts[i]!))]))
    const tally = new Map<Server, Tally>(servers.map((s) => [s, { full: [], resumed: [] }]))
    log(`bench: connect-rounds: ${servers.length} servers, ${n} cars, ${rounds} rounds, a warm-up first`)
    for (const s of servers) { await wave(s, carsOf.get(s)!, false); await wave(s, carsOf.get(s)!, true) }
    for (let r = 0; r < rounds; r++) {
      for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
        const cars = carsOf.get(s)!
        const full = await wave(s, cars, false)
        const resumed = await wave(s, cars, true)
        tally.get(s)!.full.push(full)
        tally.get(s)!.resumed.push(resumed)
        log(`bench: connect-rounds: round ${r + 1}/${rounds}, ${s.name}: full ${round(full.rate, 0)}/s (${round(full.cpuMs, 3)} ms CPU each), resumed ${round(resumed.rate, 0)}/s (${round(resumed.cpuMs, 3)} ms), ${resumed.resumed}/${resumed.answered} resumed`)
      }
    }

    const med = (s: Server, kind: keyof Tally, f: (w: Wave) => number) => median(tally.get(s)![kind].map(f))
    const rate = (s: Server, kind: keyof Tally) => round(med(s, kind, (w) => w.rate), 0)
    const cpu = (s: Server, kind: keyof Tally) => round(med(s, kind, (w) => w.cpuMs), 3)
    const [fgS, bareS, floorS] = servers as [Server, Server, Server]
    const mosqS = servers[3]
    const rows: BenchSection['rows'] = [
      { metric: 'full handshake + CONNECT/s, fleetgate (baseline: bare Aedes, tickets on)', fleetgate: rate(fgS, 'full'), baseline: rate(bareS, 'full'), unit: '/s', target: '>= 0.9x' },
      { metric: 'resumed handshake + CONNECT/s, fleetgate (baseline: bare Aedes, resumed)', fleetgate: rate(fgS, 'resumed'), baseline: rate(bareS, 'resumed'), unit: '/s', target: '>= 0.9x' },
      { metric: 'resumed handshake + CONNECT/s, fleetgate (baseline: fleetgate full)', fleetgate: rate(fgS, 'resumed'), baseline: rate(fgS, 'full'), unit: '/s', target: '>= 1.4x' },
      { metric: 'server CPU per connect, fleetgate resumed (baseline: fleetgate full)', fleetgate: cpu(fgS, 'resumed'), baseline: cpu(fgS, 'full'), unit: 'ms', target: '<= 0.7x' },
      ...(mosqS ? [{ metric: `resumed handshake + CONNECT/s, fleetgate (baseline: ${mosqS.name}, resumed)`, fleetgate: rate(fgS, 'resumed'), baseline: rate(mosqS, 'resumed'), unit: '/s', target: '>= 1.3x' }] : []),
      // no target: what each costs per connect, and the ceiling of a broker on Node
      { metric: 'server CPU per resumed connect, fleetgate (baseline: bare Aedes)', fleetgate: cpu(fgS, 'resumed'), baseline: cpu(bareS, 'resumed'), unit: 'ms' },
      { metric: 'server CPU per full connect, fleetgate (baseline: bare Aedes)', fleetgate: cpu(fgS, 'full'), baseline: cpu(bareS, 'full'), unit: 'ms' },
      { metric: 'resumed handshake + CONNECT/s, fleetgate (baseline: Node TLS floor, no broker)', fleetgate: rate(fgS, 'resumed'), baseline: rate(floorS, 'resumed'), unit: '/s' },
      ...(mosqS ? [{ metric: `  the Node TLS floor itself, resumed (baseline: ${mosqS.name}, resumed): the most a broker on Node reaches here`, fleetgate: rate(floorS, 'resumed'), baseline: rate(mosqS, 'resumed'), unit: '/s' }] : []),
    ]
    for (const s of servers) notes.push(`${s.name}: full ${rate(s, 'full')}/s, ${cpu(s, 'full')} ms CPU per connect; resumed ${rate(s, 'resumed')}/s, ${cpu(s, 'resumed')} ms (medians of ${rounds} rounds)`)
    notes.push(`${n} cars per server, ${CONCURRENCY} connects in flight, ${rounds} rounds after a warm-up; each round deals every server a full wave then a resumed wave, in turn, the order reversed every other round; all servers up at once, each in its own process (fleetgate: startBroker, embedded store, audit log at info to /dev/null)`)
    return { title: `Connect rounds (${n} cars, side by side)`, rows, notes }
  } finally {
    for (const s of servers) await s.stop()
  }
}
