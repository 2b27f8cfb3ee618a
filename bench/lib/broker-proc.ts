// Parent side of bench/lib/broker-child.ts.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export type BrokerMode = 'bare' | 'fleetgate' | 'bare-guard' | 'bare-resume' | 'bare-redis' | 'bare-redis-resume' | 'tls-floor'

/** RSS, V8 heap used, V8 heap committed (heapTotal) and external memory after a full GC, bytes */
export interface BrokerMemory { readonly rss: number; readonly heap: number; readonly heapTotal: number; readonly external: number }

export interface BrokerProc {
  readonly mode: BrokerMode
  readonly port: number
  readonly pid: number | undefined
  rss (): Promise<number>
  memory (): Promise<BrokerMemory>
  /** diagnostics: write a V8 heap snapshot in the broker process, returns its file */
  snapshot (): Promise<string>
  stop (): Promise<void>
}

const CHILD = fileURLToPath(new URL('./broker-child.js', import.meta.url))

/** `options`: more startBroker options for a fleetgate broker (JSON values: redis, tlsResumption, ...) */
export async function startBrokerProc (mode: BrokerMode, pkiDir: string, execArgv: readonly string[] = [], options?: Record<string, string | number | boolean>): Promise<BrokerProc> {
  const child: ChildProcess = fork(CHILD, [mode, pkiDir, ...(options ? [JSON.stringify(options)] : [])], { execArgv: ['--expose-gc', ...execArgv], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${mode} broker did not start`)), 30_000)
    child.once('message', (m: { port: number }) => { clearTimeout(t); resolve(m.port) })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${mode} broker exited ${code}`)) })
  })
  const memory = () => new Promise<BrokerMemory>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no memory answer')), 10_000)
    child.once('message', (m: BrokerMemory) => { clearTimeout(t); resolve(m) })
    child.send({ cmd: 'rss' })
  })
  return {
    mode,
    port,
    pid: child.pid,
    rss: async () => (await memory()).rss,
    snapshot: () => new Promise((resolve) => {
      child.once('message', (m: { file: string }) => resolve(m.file))
      child.send({ cmd: 'snapshot' })
    }),
    memory,
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      child.once('exit', () => { clearTimeout(t); resolve() })
      child.kill('SIGTERM')
    }),
  }
}
