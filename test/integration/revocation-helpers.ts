// Shared by the revocation tests: redis-cli as an external writer, openssl as
// the external PKI tool, fingerprints of PEM files.
import { execFile } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { parsePemCertificates } from '../../src/pki/pem.js'

const run = promisify(execFile)

export async function redisCli (port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 10_000 })
  return stdout.trim()
}

export async function openssl (...args: string[]): Promise<string> {
  const { stdout } = await run('openssl', args, { timeout: 20_000 })
  return stdout.trim()
}

/** DER of the n-th certificate of a PEM file */
export function derOf (pemFile: string, n = 0): Buffer {
  return parsePemCertificates(readFileSync(pemFile, 'utf8'), pemFile)[n]!
}

export function fingerprintOf (pemFile: string, n = 0): string {
  return createHash('sha256').update(derOf(pemFile, n)).digest('hex')
}

export function certOf (pemFile: string, n = 0): X509Certificate {
  return new X509Certificate(derOf(pemFile, n))
}

export function elapsedSince (t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6
}
