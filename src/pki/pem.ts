// PEM files of the dev/test PKI: keys are created 0600 (never chmod-ed after
// the fact), certificates are written as chain files (leaf first, then the
// CA that issued it). Errors are one-line FleetgateErrors naming the file.
import { closeSync, constants as fsConstants, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { fgError } from '../contract/errors.js'

export const KEY_FILE_MODE = 0o600
export const PRIVATE_DIR_MODE = 0o700

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g
const KEY_BLOCK = /-----BEGIN ((?:EC |RSA |ENCRYPTED )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/
const CSR_BLOCK = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([\s\S]*?)-----END \1CERTIFICATE REQUEST-----/

/** DER -> PEM block with 64-character lines and a trailing newline */
export function derToPem (der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** certificates (DER), in order, as one PEM text */
export function certificatesToPem (ders: readonly Uint8Array[]): string {
  return ders.map((d) => derToPem(d, 'CERTIFICATE')).join('')
}

/** a private key as PKCS#8 PEM */
export function privateKeyToPem (key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string
}

function describeFsError (path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  switch (code) {
    case 'ENOENT': return `${path}: no such file`
    case 'EACCES': case 'EPERM': return `${path}: permission denied`
    case 'EISDIR': return `${path}: is a directory, not a file`
    case 'ENOTDIR': return `${path}: a parent of this path is not a directory`
    case 'EEXIST': return `${path}: already exists`
    default: return `${path}: cannot be accessed (${code ?? String(err)})`
  }
}

/** read a text file; FG_ERR_FILE_UNREADABLE naming the file on failure */
export function readTextFile (path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw fgError('FG_ERR_FILE_UNREADABLE', describeFsError(path, err), err)
  }
}

/** readTextFile, its error naming the flag as well: `--ca <path>: no such file` */
export function readFlagFile (path: string, flag: string): string {
  try {
    return readTextFile(path)
  } catch (err) {
    throw fgError('FG_ERR_FILE_UNREADABLE', `${flag} ${(err as Error).message}`, err)
  }
}

/** every CERTIFICATE block of a PEM text, as DER, in file order; `source` names the text in errors */
export function parsePemCertificates (text: string, source: string): Buffer[] {
  const out: Buffer[] = []
  for (const m of text.matchAll(CERT_BLOCK)) {
    const der = Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')
    try {
      new X509Certificate(der) // parses, or throws
    } catch (err) {
      throw fgError('FG_ERR_PEM_INVALID', `${source}: certificate ${out.length + 1} cannot be parsed`, err)
    }
    out.push(der)
  }
  if (out.length === 0) throw fgError('FG_ERR_PEM_INVALID', `${source}: no certificate found`)
  return out
}

/** the certificates of a PEM file (leaf first for a chain file), as DER */
export function readPemCertificates (path: string): Buffer[] {
  return parsePemCertificates(readTextFile(path), path)
}

/** a private key from PEM text: PKCS#8 (`PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`), also PKCS#1 RSA */
export function parsePrivateKey (text: string, source: string): KeyObject {
  const m = KEY_BLOCK.exec(text)
  if (m === null) throw fgError('FG_ERR_PEM_INVALID', `${source}: no private key found`)
  if (m[1] === 'ENCRYPTED PRIVATE KEY') throw fgError('FG_ERR_PEM_INVALID', `${source}: the private key is encrypted (not supported)`)
  try {
    return createPrivateKey({ key: m[0], format: 'pem' })
  } catch (err) {
    throw fgError('FG_ERR_PEM_INVALID', `${source}: the private key cannot be parsed`, err)
  }
}

/** a private key from a PEM file (PKCS#8 or SEC1) */
export function readPrivateKey (path: string): KeyObject {
  return parsePrivateKey(readTextFile(path), path)
}

/** the DER of the first CERTIFICATE REQUEST block of a PEM text */
export function parsePemCsr (text: string, source: string): Buffer {
  const m = CSR_BLOCK.exec(text)
  if (m === null) throw fgError('FG_ERR_PEM_INVALID', `${source}: no certificate request found`)
  return Buffer.from((m[2] ?? '').replace(/\s+/g, ''), 'base64')
}

/** create a directory (and parents); `mode` applies to the directories it creates */
export function ensureDir (path: string, mode = 0o755): void {
  try {
    mkdirSync(path, { recursive: true, mode })
  } catch (err) {
    throw fgError('FG_ERR_FILE_UNREADABLE', describeFsError(path, err), err)
  }
}

function writeNew (path: string, data: string, mode: number): void {
  // Remove any previous file, then create with O_EXCL: the mode is set at
  // creation (an existing file would keep its old mode) and a planted symlink
  // is not followed.
  try {
    unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fgError('FG_ERR_FILE_UNREADABLE', describeFsError(path, err), err)
  }
  let fd: number
  try {
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode)
  } catch (err) {
    throw fgError('FG_ERR_FILE_UNREADABLE', describeFsError(path, err), err)
  }
  try {
    writeSync(fd, data)
  } catch (err) {
    throw fgError('FG_ERR_FILE_UNREADABLE', describeFsError(path, err), err)
  } finally {
    closeSync(fd)
  }
}

/** write a private key as PKCS#8 PEM, created with mode 0600 (a previous file at `path` is replaced) */
export function writePrivateKey (path: string, key: KeyObject | string): void {
  writeNew(path, typeof key === 'string' ? key : privateKeyToPem(key), KEY_FILE_MODE)
}

/**
 * write certificates (DER or PEM text) as one PEM file: for a client's chain
 * file pass [leaf, issuing CA]; for a trust store pass [root].
 */
export function writeCertificates (path: string, certs: readonly Uint8Array[] | string): void {
  writeNew(path, typeof certs === 'string' ? certs : certificatesToPem(certs), 0o644)
}

/** write any small text file (JSON manifest, ...) with mode 0644 */
export function writeTextFile (path: string, text: string): void {
  writeNew(path, text, 0o644)
}
