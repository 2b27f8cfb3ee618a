// Parent side of broker-child.ts: a real broker node in its own process.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { ConfigInput } from '../../src/config/index.js'
import { atExit } from './exit.js'

export interface BrokerProc {
  readonly port: number
  /** SIGKILL: the node dies mid-work */
  kill (): Promise<void>
}

const CHILD = fileURLToPath(new URL('./broker-child.js', import.meta.url))

export async function startBrokerProc (pkiDir: string, input: ConfigInput = {}): Promise<BrokerProc> {
  const config = {
    port: 0, host: '127.0.0.1',
    ca: join(pkiDir, 'root-ca.pem'), cert: join(pkiDir, 'broker', 'cert.pem'), key: join(pkiDir, 'broker', 'key.pem'),
    dataDir: mkdtempSync(join(tmpdir(), 'fg-data-')),
    ...input,
  }
  const child: ChildProcess = fork(CHILD, [JSON.stringify(config)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  atExit(() => child.kill('SIGKILL'))
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('child broker did not start')), 30_000)
    child.once('message', (m: { port: number }) => { clearTimeout(t); resolve(m.port) })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`child broker exited ${code}`)) })
  })
  return {
    port,
    kill: () => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGKILL')
    }),
  }
}
