// Read and check the listener's PEM files once; a bad file is one line naming it.
import { readFileSync } from 'node:fs'
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { fgError } from '../errors.js'
import type { TlsMaterial } from './options.js'

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

export function splitPemCertificates (pem: string): string[] {
  return pem.match(PEM_CERT) ?? []
}

function readText (path: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw fgError('FG_ERR_FILE_UNREADABLE', `${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'cannot be read'}`)
  }
}

export function readCertificates (path: string, flag: string): { pem: string; certs: X509Certificate[] } {
  const pem = readText(path, flag)
  const blocks = splitPemCertificates(pem)
  if (blocks.length === 0) throw fgError('FG_ERR_PEM_INVALID', `${flag} ${path}: no PEM certificate found`)
  const certs = blocks.map((b, i) => {
    try { return new X509Certificate(b) } catch { throw fgError('FG_ERR_PEM_INVALID', `${flag} ${path}: certificate #${i + 1} cannot be parsed`) }
  })
  return { pem, certs }
}

export function readPrivateKey (path: string, flag: string): { pem: string; key: KeyObject } {
  const pem = readText(path, flag)
  try {
    return { pem, key: createPrivateKey(pem) }
  } catch {
    throw fgError('FG_ERR_PEM_INVALID', `${flag} ${path}: not a PEM private key (PKCS#8, SEC1 or PKCS#1)`)
  }
}

export interface LoadedTlsMaterial extends TlsMaterial {
  /** DER of every certificate in the trust bundle */
  readonly caDer: readonly Buffer[]
}

export function loadTlsMaterial (paths: { ca: string; cert: string; key: string }): LoadedTlsMaterial {
  const ca = readCertificates(paths.ca, '--ca')
  const cert = readCertificates(paths.cert, '--cert')
  const key = readPrivateKey(paths.key, '--key')
  if (!cert.certs[0]!.checkPrivateKey(key.key)) {
    throw fgError('FG_ERR_KEY_MISMATCH', `--key ${paths.key} does not match the certificate in --cert ${paths.cert}`)
  }
  return { ca: ca.pem, cert: cert.pem, key: key.pem, caDer: ca.certs.map((c) => c.raw) }
}
