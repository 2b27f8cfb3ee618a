// Shared helpers of the PKI unit tests: temp dirs, openssl, and the error a promise rejects with.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RunResult { status: number | null; stdout: string; stderr: string }

export function openssl (args: readonly string[], input?: string): RunResult {
  const r = spawnSync('openssl', args, { encoding: 'utf8', ...(input === undefined ? {} : { input }) })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

export function tempDir (label: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `fleetgate-pki-${label}-`))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** the error `p` rejects with; fails the test if it resolves */
export async function rejects (p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}
