// CI smoke test of `npm run cluster:local` (docker/cluster-local.sh): a real
// redis-server, three real `fleetgate serve` nodes and a real HAProxy with
// docker/haproxy.cfg, on free loopback ports. Cars connect through HAProxy only.
// - cars spread over the three nodes, each from its own loopback address (127.0.0.2,
//   127.0.0.3, ...) and seen with it (HAProxy's PROXY v2 header), under a per-IP limit of 2;
// - a node killed (SIGKILL): HAProxy marks it down and its cars are back on the
//   other two (MQTT.js reconnecting through HAProxy); the time is reported;
// - a node drained (`fleetgate drain`): its /readyz flips to 503 at once, HAProxy
//   marks it down, its cars move to the last node, no Will is published;
// - Ctrl-C (SIGINT) on the script stops every process it started.
import { expect } from 'chai'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { connect as netConnect } from 'node:net'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt, { type MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { credentials, end } from '../harness/mqtt.js'
import { freePort } from '../harness/ports.js'
import { runCli } from '../harness/cli.js'
import { atExit } from '../harness/exit.js'
import { until } from './session-support.js'

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..')
const SCRIPT = join(ROOT, 'docker', 'cluster-local.sh')

function haproxyInstalled (): boolean {
  try { execFileSync('haproxy', ['-v'], { stdio: 'ignore' }); return true } catch { return false }
}

/** HAProxy's view of each server: name -> UP / DOWN / ... (stats socket, "show stat") */
async function serverStates (sock: string): Promise<Record<string, string>> {
  const text = await new Promise<string>((resolve, reject) => {
    const s = netConnect(sock)
    let out = ''
    s.on('data', (d) => { out += d })
    s.on('end', () => resolve(out))
    s.on('error', reject)
    s.write('show stat\n')
  })
  const [head, ...rows] = text.trim().split('\n')
  const cols = head!.replace(/^# /, '').split(',')
  const out: Record<string, string> = {}
  for (const r of rows) {
    const f = r.split(',')
    if (f[cols.indexOf('pxname')] === 'brokers' && /^node\d$/.test(f[cols.indexOf('svname')]!)) out[f[cols.indexOf('svname')]!] = f[cols.indexOf('status')]!
  }
  return out
}

async function readyz (port: number): Promise<{ status: number; sessions: number }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`)
  const body = await res.json() as { checks: { sessions: number } }
  return { status: res.status, sessions: body.checks.sessions }
}

describe('npm run cluster:local: Redis, three nodes and HAProxy (smoke test)', function () {
  this.timeout(180_000)
  let pki: TestPki
  let script: ChildProcess
  let out = ''
  let dir: string
  let lb: number
  let admin: number[]
  const cars: MqttClient[] = []
  const wills: string[] = []
  const CARS = 12

  /** a car's TCP source address, 127.0.0.<n> (MQTT.js hands localAddress to tls.connect) */
  const sourced = (n: number) => ({ localAddress: `127.0.0.${n}` }) as Record<string, unknown>
  /** clientId -> remote address of its newest connect.allow, over the three nodes' audit logs */
  const allowedRemotes = () => {
    const out = new Map<string, string>()
    for (const n of [1, 2, 3]) {
      for (const line of readFileSync(join(dir, `node${n}.log`), 'utf8').split('\n')) {
        if (!line.includes('"connect.allow"')) continue
        const l = JSON.parse(line) as { conn: { clientId: string }; remote: string }
        out.set(l.conn.clientId, l.remote)
      }
    }
    return out
  }
  const pidOf = (name: string) => Number(readFileSync(join(dir, `${name}.pid`), 'utf8').trim())
  const alive = (pid: number) => { try { process.kill(pid, 0); return true } catch { return false } }
  const sessionsOn = async () => Promise.all(admin.map(async (p) => { try { return (await readyz(p)).sessions } catch { return 0 } }))

  before(async function () {
    if (!haproxyInstalled()) throw new Error('haproxy is not installed: apt-get install -y haproxy (.ci/run installs it)')
    pki = await testPki()
    dir = mkdtempSync(join(tmpdir(), 'fg-cluster-'))
    lb = await freePort()
    const nodes = [await freePort(), await freePort(), await freePort()]
    admin = [await freePort(), await freePort(), await freePort()]
    const redisPort = await freePort()
    script = spawn('bash', [SCRIPT], {
      cwd: ROOT,
      env: {
        ...process.env, FG_CLUSTER_LB_PORT: String(lb), FG_CLUSTER_NODE_PORTS: nodes.join(' '), FG_CLUSTER_ADMIN_PORTS: admin.join(' '),
        FG_CLUSTER_REDIS_PORT: String(redisPort), FG_CLUSTER_DIR: dir, FG_CLUSTER_PKI: pki.dir,
        // the drain below takes ~2 s for its cars (the default rate would close them at once);
        // a per-IP limit of 2: each car comes from its own loopback address through the PROXY protocol,
        // so none is refused, where from HAProxy's one address a node would refuse its third car
        FG_CLUSTER_NODE_ARGS: '--drain-rate 5 --max-connections-per-ip 2',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    atExit(() => script.kill('SIGKILL'))
    script.stdout!.on('data', (d: Buffer) => { out += d })
    script.stderr!.on('data', (d: Buffer) => { out += d })
    await until(() => /cluster:local: ready/.test(out) || script.exitCode !== null, 60_000, 'cluster:local ready')
    expect(script.exitCode, out).to.equal(null)
  })

  after(async () => {
    await end(...cars)
    if (script && script.exitCode === null) script.kill('SIGKILL')
  })

  it('cars through HAProxy land on all three nodes, each seen with its own address (127.0.0.2, 127.0.0.3, ...) under a per-IP limit of 2', async () => {
    // HAProxy's first checks are spread over the first interval
    await until(async () => Object.values(await serverStates(join(dir, 'haproxy.sock'))).join() === 'UP,UP,UP', 10_000, 'three nodes UP in HAProxy')
    // a watcher for Wills, through HAProxy too
    const watcher = mqtt.connect({ protocol: 'mqtts', host: '127.0.0.1', port: lb, servername: 'localhost', ...credentials(pki.dir, pki.monitor), clientId: 'fleet-monitor-smoke', protocolVersion: 4, reconnectPeriod: 300, ...sourced(CARS + 2) })
    cars.push(watcher)
    watcher.on('message', (topic, _p, packet) => { if (!packet.retain) wills.push(topic) })
    await new Promise<void>((resolve) => watcher.once('connect', () => resolve()))
    await watcher.subscribeAsync('vehicles/+/status', { qos: 1 })
    // the four cars of the test PKI, each with a Will on its status topic, and fleet-backend connections
    // (distinct clientIds) for the rest; all reconnect by themselves, through HAProxy
    for (let i = 0; i < CARS; i++) {
      const vin = pki.vins[i]
      const c = mqtt.connect({
        protocol: 'mqtts', host: '127.0.0.1', port: lb, servername: 'localhost', protocolVersion: 4, reconnectPeriod: 300, connectTimeout: 5000, clean: false,
        ...sourced(i + 2),
        ...(vin !== undefined
          ? { ...credentials(pki.dir, pki.vehicle(i)), clientId: vin, will: { topic: `vehicles/${vin}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } }
          : { ...credentials(pki.dir, pki.backend), clientId: `fleet-backend-car-${i}` }),
      })
      cars.push(c)
    }
    await until(() => cars.every((c) => c.connected), 20_000, 'every car connected through HAProxy')
    const on = await sessionsOn()
    expect(on.reduce((a, b) => a + b, 0)).to.equal(CARS + 1)
    // leastconn spreads them
    for (const n of on) expect(n).to.be.greaterThan(0)
    // each car seen with its own address (127.0.0.2, 127.0.0.3, ...): the PROXY v2 header from HAProxy
    const remotes = allowedRemotes()
    for (let i = 0; i < CARS; i++) {
      const id = pki.vins[i] ?? `fleet-backend-car-${i}`
      expect(remotes.get(id), id).to.equal(`127.0.0.${i + 2}`)
    }
    expect([...remotes.values()]).to.not.include('127.0.0.1')
  })

  it('a node killed: HAProxy marks it down and its cars are back on the other two', async () => {
    const before = await sessionsOn()
    const t0 = Date.now()
    process.kill(pidOf('node2'), 'SIGKILL')
    await until(async () => (await serverStates(join(dir, 'haproxy.sock'))).node2 === 'DOWN', 10_000, 'node2 DOWN in HAProxy')
    const markedDown = Date.now() - t0
    let last: number[] = []
    await until(async () => { const s = last = await sessionsOn(); return s[0]! + s[2]! === CARS + 1 && cars.every((c) => c.connected) }, 30_000, 'every car back on node1 and node3')
      .catch((err: Error) => { throw new Error(`${err.message}: sessions ${last.join('/')}, connected ${cars.filter((c) => c.connected).length}/${cars.length}`) })
    const back = Date.now() - t0
    console.log(`      kill -9 of node2 (${before[1]} cars): HAProxy marked it down after ${markedDown} ms; every car back on node1/node3 after ${back} ms`)
  })

  it('a node drained: /readyz 503 at once, HAProxy marks it down, its cars move to the last node, no Will', async () => {
    // a drained car is not dead: none of the Wills may be published
    const r = await runCli(['drain', '--metrics-port', String(admin[0]), '--no-wait'])
    expect(r.code, r.stderr).to.equal(0)
    expect(r.stderr).to.match(/draining \(\d+ sessions\)/)
    const t0 = Date.now()
    expect((await readyz(admin[0]!)).status).to.equal(503)
    await until(async () => (await serverStates(join(dir, 'haproxy.sock'))).node1 === 'DOWN', 10_000, 'node1 DOWN in HAProxy')
    const markedDown = Date.now() - t0
    await until(() => !alive(pidOf('node1')), 30_000, 'node1 drained and exited')
    await until(async () => (await readyz(admin[2]!)).sessions === CARS + 1 && cars.every((c) => c.connected), 30_000, 'every car on node3')
    const err = readFileSync(join(dir, 'node1.err'), 'utf8')
    expect(err).to.match(/drained \(\d+ sessions closed at the drain rate, 0 at once/)
    console.log(`      drain of node1: HAProxy marked it down after ${markedDown} ms; every car on node3 after ${Date.now() - t0} ms`)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(wills).to.deep.equal([])
  })

  it('Ctrl-C stops every process the script started', async () => {
    const pids = ['redis', 'node3', 'haproxy'].map(pidOf)
    await end(...cars.splice(0))
    const exited = new Promise<number | null>((resolve) => script.once('exit', (code) => resolve(code)))
    script.kill('SIGINT')
    expect(await exited).to.equal(0)
    for (const p of pids) expect(alive(p), `pid ${p}`).to.equal(false)
  })
})
