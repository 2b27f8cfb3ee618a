// A user's phone (`fleetgate sim phone`): its own P-256 key, kept in a PEM
// file, named by its RFC 7638 thumbprint (kid). It connects to the broker with
// a phone certificate (policy role `phone`: a path to the cars' command topics,
// no authority) and signs each command with its own key (JWS header kid); each
// car acts on it only if that key is in its own list with a role that allows
// the command. Pairing: the phone's public key file is handed to an owner
// (in a real app: a QR code or NFC), whose phone sends add_key.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import {
  fgError, generateKey, isP256, publicJwkOf, readFlagFile, thumbprintOf, writeFileAtomic,
  type PublicJwk, type UserSigningKey,
} from '../src/index.js'
import { connectBackend, type Backend } from './backend.js'
import type { ClientCredentials } from './credentials.js'

export interface PhoneKey extends UserSigningKey {
  readonly jwk: PublicJwk
  /** SPKI PEM of the public key: what an owner enrols */
  readonly publicPem: string
}

export async function phoneKeyOf (key: KeyObject): Promise<PhoneKey> {
  const jwk = publicJwkOf(key)
  return { key, kid: await thumbprintOf(jwk), jwk, publicPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString() }
}

/** A new key, written to `file` (PKCS#8 PEM, 0600) and its public key to `publicFile`; refuses to overwrite. */
export async function makePhoneKey (file: string, publicFile: string): Promise<PhoneKey> {
  for (const [flag, f] of [['--key-file', file], ['--public', publicFile]] as const) {
    if (existsSync(f)) throw fgError('FG_ERR_CONFIG_INVALID', `${flag} ${f}: exists already (a phone key is never overwritten)`)
  }
  const key = generateKey()
  const phone = await phoneKeyOf(key)
  try {
    writeFileAtomic(file, key.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600)
    writeFileAtomic(publicFile, phone.publicPem, 0o644)
  } catch (err) {
    throw fgError('FG_ERR_STORE_WRITE', `--key-file ${file}: cannot be written (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
  return phone
}

/** The phone key in `file` (a PEM P-256 private key). */
export async function readPhoneKey (file: string, flag = '--key-file'): Promise<PhoneKey> {
  const text = readFlagFile(file, flag)
  let key: KeyObject
  try { key = createPrivateKey(text) } catch { throw fgError('FG_ERR_PEM_INVALID', `${flag} ${file}: not a PEM private key`) }
  if (!isP256(key)) throw fgError('FG_ERR_PEM_INVALID', `${flag} ${file}: not a P-256 key`)
  return await phoneKeyOf(key)
}

/** A phone's connection: a Backend whose commands carry the phone's kid. */
export async function connectPhone (url: string, creds: ClientCredentials, phone: UserSigningKey, opts: { connectTimeoutMs?: number } = {}): Promise<Backend> {
  return await connectBackend(url, creds, { ...opts, userKey: phone })
}
