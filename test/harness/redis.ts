// A throwaway redis-server on an ephemeral port (never the machine's 6379).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { atExit } from './exit.js'

export interface TestRedis {
  readonly port: number
  readonly url: string
  readonly process: ChildProcess
  stop (): Promise<void>
  /** restart on the same port (after stop), for outage tests */
  start (): Promise<void>
}

async function launch (port: number, dir: string, extra: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('redis-server did not start: ' + out)), 10_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('Ready to accept connections')) { clearTimeout(timer); resolve() }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited ${code}: ${out}`)) })
  })
  child.stdout!.resume()
  return child
}

/** `extra`: more redis-server arguments (e.g. --cluster-enabled yes) */
export async function startRedis (extra: readonly string[] = []): Promise<TestRedis> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fg-redis-'))
  let child: ChildProcess | null = await launch(port, dir, extra)
  const r: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get process () { return child! },
    async stop () {
      if (!child) return
      const c = child; child = null
      await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGKILL') })
    },
    async start () { if (!child) child = await launch(port, dir, extra) },
  }
  atExit(() => { child?.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }) })
  return r
}
