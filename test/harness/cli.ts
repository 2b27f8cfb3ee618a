// Run the real `fleetgate` command line as a child process.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

export const BIN = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'bin', 'fleetgate.js')

export interface CliResult { code: number | null; stdout: string; stderr: string }

export function runCli (args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''; let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d })
    child.stderr.on('data', (d: Buffer) => { stderr += d })
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`fleetgate ${args.join(' ')} timed out; stderr: ${stderr}`)) }, opts.timeoutMs ?? 20_000)
    child.once('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }) })
  })
}

/** Start a long-running command; resolves once `ready` matches its stderr. */
export function startCli (args: string[], ready: RegExp, opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<{ child: ChildProcess; stderr: () => string; stdout: () => string; match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''; let stderr = ''
    child.stdout!.on('data', (d: Buffer) => { stdout += d })
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`not ready: ${stderr}`)) }, opts.timeoutMs ?? 20_000)
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d
      const m = stderr.match(ready)
      if (m) { clearTimeout(t); resolve({ child, stderr: () => stderr, stdout: () => stdout, match: m }) }
    })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`exited ${code} before ready: ${stderr}`)) })
  })
}

export async function stopChild (child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(t); resolve() })
    child.kill(signal)
  })
}
