// A throwaway Redis with Sentinel on ephemeral loopback ports: a master, a
// replica and three Sentinels (`redis-server <file> --sentinel`: Debian's
// redis-server binary is enough, the redis-sentinel package only adds a
// symlink). Short timeouts so a failover takes a couple of seconds.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { freePort } from './ports.js'
import { atExit } from './exit.js'

export const MASTER_NAME = 'fgmaster'

export interface SentinelSetup {
  /** the --redis value: redis+sentinel://127.0.0.1:<s1>,.../fgmaster */
  readonly url: string
  readonly sentinelPorts: readonly number[]
  /** the port of the server that is master now (asked of a Sentinel) */
  masterPort (): Promise<number>
  /** SIGKILL the process on `port` (the master, or a replica) */
  kill (port: number): Promise<void>
  /** SIGSTOP / SIGCONT the server on `port` (a replica that stops acknowledging, still connected) */
  pause (port: number): void
  resume (port: number): void
  /** the port last killed */
  readonly killedPort?: number
  /** start the server on `port` again (after kill); Sentinel makes it a replica of the master */
  restart (port: number): Promise<void>
  /** resolves once the Sentinels name a master other than `port`, and every Sentinel agrees */
  failedOverFrom (port: number, timeoutMs?: number): Promise<number>
  /** resolves once the master has `n` replicas online and every Sentinel knows them */
  replicasOnline (n: number, timeoutMs?: number): Promise<void>
  stop (): Promise<void>
}

async function launch (args: string[], ready: string): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`redis-server ${args.join(' ')} did not start: ${out}`)), 10_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes(ready)) { clearTimeout(timer); resolve() }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited ${code}: ${out}`)) })
  })
  child.stdout!.resume()
  return child
}

async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try { const v = await probe(); if (v !== undefined) return v } catch (err) { last = err }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${String(last)})` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export async function startSentinels (): Promise<SentinelSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-sentinel-'))
  const [masterPort, replicaPort, ...sentinelPorts] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]) as [number, number, ...number[]]
  const servers = new Map<number, ChildProcess | null>()
  const serverArgs = (port: number, replicaOf?: number) => [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--dbfilename', `dump-${port}.rdb`, '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0',
    ...(replicaOf !== undefined ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
  ]
  const sentinels: ChildProcess[] = []
  const stopAll = () => {
    for (const c of servers.values()) { c?.kill('SIGCONT'); c?.kill('SIGKILL') }
    for (const c of sentinels) c.kill('SIGKILL')
  }
  atExit(() => { stopAll(); rmSync(dir, { recursive: true, force: true }) })
  servers.set(masterPort, await launch(serverArgs(masterPort), 'Ready to accept connections'))
  servers.set(replicaPort, await launch(serverArgs(replicaPort, masterPort), 'Ready to accept connections'))
  for (const port of sentinelPorts) {
    const file = join(dir, `sentinel-${port}.conf`)
    writeFileSync(file, [
      `port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 3000`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      '',
    ].join('\n'))
    sentinels.push(await launch([file, '--sentinel'], '+monitor master'))
  }
  const ask = async <T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> => {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 })
    r.on('error', () => {})
    try { await r.connect(); return await fn(r) } finally { r.disconnect() }
  }
  const masterOf = async (sport: number) => Number((await ask(sport, (r) => r.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as string[])[1])
  let killedPort: number | undefined
  const setup: SentinelSetup = {
    get killedPort () { return killedPort },
    url: `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${MASTER_NAME}`,
    sentinelPorts,
    masterPort: async () => await masterOf(sentinelPorts[0]!),
    async kill (port) {
      const c = servers.get(port)
      if (!c) return
      servers.set(port, null)
      killedPort = port
      await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGKILL') })
    },
    pause (port) { servers.get(port)?.kill('SIGSTOP') },
    resume (port) { servers.get(port)?.kill('SIGCONT') },
    async restart (port) {
      if (servers.get(port)) return
      servers.set(port, await launch(serverArgs(port), 'Ready to accept connections'))
    },
    async failedOverFrom (port, timeoutMs = 20_000) {
      return await until(`a failover away from ${port}`, timeoutMs, async () => {
        const named = await Promise.all(sentinelPorts.map(masterOf))
        return named.every((p) => p !== port && p === named[0]) ? named[0] : undefined
      })
    },
    async replicasOnline (n, timeoutMs = 20_000) {
      await until(`${n} replica(s) online`, timeoutMs, async () => {
        const master = await masterOf(sentinelPorts[0]!)
        const info = await ask(master, (r) => r.info('replication'))
        const online = (info.match(/^slave\d+:.*state=online/gm) ?? []).length
        if (online < n) return undefined
        // every Sentinel knows the replicas (and the other Sentinels) before anyone kills the master
        const known = await Promise.all(sentinelPorts.map(async (s) => {
          const replicas = await ask(s, (r) => r.call('SENTINEL', 'replicas', MASTER_NAME)) as unknown[]
          const peers = await ask(s, (r) => r.call('SENTINEL', 'sentinels', MASTER_NAME)) as unknown[]
          return replicas.length >= n && peers.length >= sentinelPorts.length - 1
        }))
        return known.every(Boolean) ? true : undefined
      })
    },
    async stop () { stopAll(); servers.clear() },
  }
  return setup
}
