// Read and check the listener's PEM files once; a bad file is one line naming
// the flag and the file (the PEM reading itself is pki/pem.ts's).
import { X509Certificate, createHash, type KeyObject } from 'node:crypto'
import { fgError } from '../contract/errors.js'
import { certificatesToPem, parsePemCertificates, parsePrivateKey, readFlagFile } from '../pki/pem.js'
import type { TlsMaterial } from './options.js'

export function readCertificates (path: string, flag: string): { pem: string; certs: X509Certificate[] } {
  const ders = parsePemCertificates(readFlagFile(path, flag), `${flag} ${path}`)
  // Node's TLS gets the certificates re-encoded from what was parsed, nothing else of the file
  return { pem: certificatesToPem(ders), certs: ders.map((d) => new X509Certificate(d)) }
}

export function readPrivateKey (path: string, flag: string): { pem: string; key: KeyObject } {
  const pem = readFlagFile(path, flag)
  return { pem, key: parsePrivateKey(pem, `${flag} ${path}`) }
}

export interface LoadedTlsMaterial extends TlsMaterial {
  /** DER of every certificate in the trust bundle */
  readonly caDer: readonly Buffer[]
  /** DER of the server chain, leaf first */
  readonly certDer: readonly Buffer[]
  /**
   * A one-way digest of the server's private key: part of every TLS ticket key, so
   * that the ticket secret store alone (Redis, a file) cannot seal a ticket. Never logged.
   */
  readonly keySeed: Buffer
}

export function loadTlsMaterial (paths: { ca: string; cert: string; key: string }): LoadedTlsMaterial {
  const ca = readCertificates(paths.ca, '--ca')
  const cert = readCertificates(paths.cert, '--cert')
  const key = readPrivateKey(paths.key, '--key')
  if (!cert.certs[0]!.checkPrivateKey(key.key)) {
    throw fgError('FG_ERR_KEY_MISMATCH', `--key ${paths.key} does not match the certificate in --cert ${paths.cert}`)
  }
  const keySeed = createHash('sha256').update('fleetgate tls ticket seed v1\0').update(key.key.export({ type: 'pkcs8', format: 'der' })).digest()
  return { ca: ca.pem, cert: cert.pem, key: key.pem, caDer: ca.certs.map((c) => c.raw), certDer: cert.certs.map((c) => c.raw), keySeed }
}
