// `npm run bench -- workers`: full mTLS connects/s and server CPU per connect of
// `fleetgate serve --workers 2` against `--workers 1` (and `--workers 1` against one
// process without a primary), each node with a redis-server of its own, all up at
// once and measured in alternating rounds. Server CPU is the primary's plus every
// worker's (from /proc), so CPU per connect says what a core buys on a larger host.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BenchSection } from './types.js'
import { benchCerts } from './lib/certs.js'
import { contextOf } from './lib/mqtt-raw.js'
import { connectRate, type Client } from './lib/workloads.js'
import { cpuMs } from './lib/cpu.js'
import { median, round } from './lib/stats.js'
import { startRedis, type TestRedis } from '../test/harness/redis.js'

const BIN = fileURLToPath(new URL('../../bin/fleetgate.js', import.meta.url))
const log = (line: string) => process.stderr.write(line + '\n')

interface Node { readonly name: string; readonly child: ChildProcess; readonly port: number; readonly redis: TestRedis }

async function startNode (name: string, pkiDir: string, workers: number | undefined): Promise<Node> {
  const redis = await startRedis()
  const args = [BIN, 'serve', '--dev', '--dev-pki', pkiDir, '--host', '127.0.0.1', '--port', '0', '--redis', redis.url,
    '--tls-resumption', 'off', '--log-level', 'silent', '--max-connections-per-ip', '100000', ...(workers !== undefined ? ['--workers', String(workers)] : [])]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const port = await new Promise<number>((resolve, reject) => {
    let err = ''
    const t = setTimeout(() => reject(new Error(`${name} did not start: ${err}`)), 30_000)
    child.stderr!.on('data', (d: Buffer) => {
      err += d
      const m = /mTLS MQTT on [\d.]+:(\d+)/.exec(err)
      if (m) { clearTimeout(t); resolve(Number(m[1])) }
    })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${name} exited ${code}: ${err}`)) })
  })
  return { name, child, port, redis }
}

/** the node's processes: the primary and its workers */
function pidsOf (node: Node): number[] {
  let kids: number[] = []
  try { kids = execFileSync('pgrep', ['-P', String(node.child.pid)]).toString().trim().split('\n').filter(Boolean).map(Number) } catch { /* none */ }
  return [node.child.pid!, ...kids]
}

async function stopNode (node: Node): Promise<void> {
  if (node.child.exitCode === null) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { for (const p of pidsOf(node)) { try { process.kill(p, 'SIGKILL') } catch { /* gone */ } } }, 10_000)
      node.child.once('exit', () => { clearTimeout(t); resolve() })
      node.child.kill('SIGINT')
    })
  }
  await node.redis.stop()
}

export async function run (opts: { quick: boolean }): Promise<BenchSection> {
  const q = opts.quick
  const P = { connects: q ? 200 : 600, concurrency: 16, rounds: q ? 2 : 5 }
  const certs = await benchCerts(P.connects, log)
  const clients: Client[] = certs.vehicles.slice(0, P.connects).map((v) => ({ ctx: contextOf({ ca: certs.ca, cert: v.cert, key: v.key }), clientId: v.vin }))
  const specs = [['single', undefined], ['w1', 1], ['w2', 2]] as const
  const nodes: Node[] = []
  const rate: Record<string, number[]> = { single: [], w1: [], w2: [] }
  const cpu: Record<string, number[]> = { single: [], w1: [], w2: [] }
  const primaryCpu: Record<string, number[]> = { single: [], w1: [], w2: [] }
  try {
    for (const [name, workers] of specs) nodes.push(await startNode(name, certs.dir, workers))
    log(`bench: workers: connects/s and server CPU per connect (${P.connects} distinct certificates, full handshakes, TLS tickets off, ${P.concurrency} in flight, Redis; ${P.rounds} alternating rounds)`)
    for (const n of nodes) await connectRate(n.port, clients, P.concurrency) // warm: every certificate seen once
    for (let r = 0; r < P.rounds; r++) {
      for (const n of r % 2 === 0 ? nodes : [...nodes].reverse()) {
        const pids = pidsOf(n)
        const before = pids.map(cpuMs)
        rate[n.name]!.push(await connectRate(n.port, clients, P.concurrency))
        const used = pids.map((p, i) => cpuMs(p) - before[i]!)
        cpu[n.name]!.push(used.reduce((a, b) => a + b, 0) / P.connects)
        primaryCpu[n.name]!.push(used[0]! / P.connects)
      }
    }
  } finally {
    await Promise.all(nodes.map(stopNode))
  }
  const best = (name: string) => Math.max(...rate[name]!)
  const rows: BenchSection['rows'] = [
    { metric: 'mTLS connects/s, serve --workers 2 (baseline: --workers 1), Redis, tickets off', fleetgate: round(best('w2'), 0), baseline: round(best('w1'), 0), unit: '/s' },
    { metric: '  server CPU per connect (primary + workers)', fleetgate: round(median(cpu.w2!), 2), baseline: round(median(cpu.w1!), 2), unit: 'ms' },
    { metric: '  of it, the primary (accepts, hands each connection to a worker)', fleetgate: round(median(primaryCpu.w2!), 3), baseline: round(median(primaryCpu.w1!), 3), unit: 'ms' },
    { metric: 'mTLS connects/s, serve --workers 1 (baseline: one process, no primary)', fleetgate: round(best('w1'), 0), baseline: round(best('single'), 0), unit: '/s' },
    { metric: '  server CPU per connect', fleetgate: round(median(cpu.w1!), 2), baseline: round(median(cpu.single!), 2), unit: 'ms' },
  ]
  const notes = [
    `workers: best connects/s of ${P.rounds} alternating rounds; CPU per connect: median of the rounds (primary + workers, from /proc; each node's redis-server not counted)`,
    'this machine has 2 cores shared by the load client (TLS client handshakes cost about as much as the server\'s), so 2 workers cannot double the rate here: CPU per connect is the figure that carries to a larger host',
  ]
  return { title: 'Workers: serve --workers 2 vs --workers 1', rows, notes }
}
