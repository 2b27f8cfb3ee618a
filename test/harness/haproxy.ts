// A throwaway HAProxy (the Debian `haproxy` package) in TCP pass-through in front
// of test brokers, on an ephemeral loopback port, in the foreground (-db).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { atExit } from './exit.js'

export interface TestHaproxy {
  readonly port: number
  stop (): Promise<void>
}

/** HAProxy on 127.0.0.1:<ephemeral> balancing to `backends` (ports on 127.0.0.1); `serverOptions`: e.g. "send-proxy-v2". */
export async function startHaproxy (backends: readonly number[], serverOptions = 'send-proxy-v2'): Promise<TestHaproxy> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fg-haproxy-'))
  const cfg = join(dir, 'haproxy.cfg')
  writeFileSync(cfg, [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    'frontend mqtts',
    `  bind 127.0.0.1:${port}`,
    '  default_backend brokers',
    'backend brokers',
    '  balance leastconn',
    ...backends.map((p, i) => `  server node${i + 1} 127.0.0.1:${p} ${serverOptions}`),
    '',
  ].join('\n'))
  let child: ChildProcess | null = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr!.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise<never>((_resolve, reject) => {
    child!.once('error', (err) => reject(new Error(`haproxy did not start (${err.message}): install the Debian package "haproxy"`)))
    child!.once('exit', (code) => reject(new Error(`haproxy exited ${code}: ${out}`)))
  })
  exited.catch(() => {})
  const deadline = Date.now() + 10_000
  for (;;) {
    const up = await Promise.race([exited, new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })])
    if (up) break
    if (Date.now() > deadline) throw new Error('haproxy did not listen within 10 s: ' + out)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const stop = async () => {
    if (!child) return
    const c = child; child = null
    await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGKILL') })
  }
  atExit(() => { child?.kill('SIGKILL'); rmSync(dir, { recursive: true, force: true }) })
  return { port, stop }
}
