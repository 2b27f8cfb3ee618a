// A Mosquitto of the bench's own (the system `mosquitto`, when installed): on an
// ephemeral loopback port with a temporary config, the bench PKI's broker
// certificate, client certificates required and the certificate's CN as the
// username. Never the instance an operator may run on 1883.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../test/harness/ports.js'

export interface Mosquitto {
  readonly port: number
  readonly pid: number | undefined
  /** e.g. "mosquitto version 2.0.11" */
  readonly version: string
  stop (): Promise<void>
}

/** the path of `mosquitto` on the PATH (or in /usr/sbin, where Debian puts it), or undefined */
export function findMosquitto (): string | undefined {
  try {
    const path = execFileSync('sh', ['-c', 'PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v mosquitto'], { encoding: 'utf8' }).trim()
    return path || undefined
  } catch { return undefined }
}

/** its first line of `mosquitto -h`, e.g. "mosquitto version 2.0.11" */
export function mosquittoVersion (bin: string): string {
  try {
    // `mosquitto -h` prints its version on the first line and exits 3
    return execFileSync(bin, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim()
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string }
    return (String(e.stdout ?? '') + String(e.stderr ?? '')).split('\n')[0]!.trim() || 'mosquitto'
  }
}

function listening (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

export async function startMosquitto (bin: string, tls: { ca: string; cert: string; key: string }): Promise<Mosquitto> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-mosquitto-'))
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, [
    // run as root, Mosquitto would switch to the user mosquitto and could not read the bench's keys
    ...(userInfo().uid === 0 ? ['user root'] : []),
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'max_connections -1',
    `listener ${port} 127.0.0.1`,
    `cafile ${tls.ca}`,
    `certfile ${tls.cert}`,
    `keyfile ${tls.key}`,
    'require_certificate true',
    'use_identity_as_username true',
    'set_tcp_nodelay true',
    '',
  ].join('\n'))
  const child: ChildProcess = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000) })
  const stop = () => new Promise<void>((resolve) => {
    const done = () => { rmSync(dir, { recursive: true, force: true }); resolve() }
    if (child.exitCode !== null || child.signalCode !== null) return done()
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(t); done() })
    child.kill('SIGTERM')
  })
  // bounded: ready within 10 s, or stopped and reported
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break
    if (await listening(port)) return { port, pid: child.pid, version: mosquittoVersion(bin), stop }
    await new Promise((r) => setTimeout(r, 100))
  }
  await stop()
  throw new Error(`mosquitto did not start on 127.0.0.1:${port}: ${err.trim() || 'no output'}`)
}
