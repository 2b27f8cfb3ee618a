// Signing commands (fleet backend, or a user's key: kid) and results (car): JWS
// compact, ES256, x5c = the signer's leaf + issuing CA, or kid = the RFC 7638
// thumbprint of a key of the car's list (README "Signed commands"). Pure: key,
// chain, clock and jti come in.
import { randomUUID, type KeyObject } from 'node:crypto'
import { CompactSign } from 'jose'
import type { CommandPayload, KeyRecordPayload, ResultPayload, ResultStatus } from './envelope.js'
import type { KeyChange, KeyEntryView } from './keys.js'
import { DEFAULT_MAX_LIFETIME_MS } from './verify.js'

/** A signing identity: its private key and its certificate chain (DER, leaf first, then the issuing CA). */
export interface SigningKey {
  readonly key: KeyObject
  readonly chain: readonly Uint8Array[]
}

/** A user's key of a car's list: its private P-256 key and its kid (RFC 7638 thumbprint of the public JWK). */
export interface UserSigningKey {
  readonly key: KeyObject
  readonly kid: string
}

const encoder = new TextEncoder()

export function isUserSigningKey (s: SigningKey | UserSigningKey): s is UserSigningKey {
  return 'kid' in s
}

export async function signJws (payload: object, signer: SigningKey | UserSigningKey): Promise<string> {
  const header = isUserSigningKey(signer)
    ? { alg: 'ES256', kid: signer.kid }
    : { alg: 'ES256', x5c: signer.chain.slice(0, 2).map((d) => Buffer.from(d).toString('base64')) }
  return await new CompactSign(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(signer.key)
}

export interface CommandInput {
  readonly vin: string
  readonly cmd: string
  readonly args?: Readonly<Record<string, unknown>>
  /** default: a random UUID */
  readonly jti?: string
  /** ms; default now */
  readonly iat?: number
  /** lifetime in ms (exp = iat + ttl); default the 60 s maximum */
  readonly ttlMs?: number
}

export function commandPayload (input: CommandInput, now: number = Date.now()): CommandPayload {
  const iat = input.iat ?? now
  return {
    v: 1,
    vin: input.vin,
    cmd: input.cmd,
    args: input.args ?? {},
    jti: input.jti ?? randomUUID(),
    iat,
    exp: iat + (input.ttlMs ?? DEFAULT_MAX_LIFETIME_MS),
  }
}

/** Sign one command; returns the compact JWS and the payload (for its jti). */
export async function signCommand (input: CommandInput, signer: SigningKey | UserSigningKey, now: number = Date.now()): Promise<{ jws: string; payload: CommandPayload }> {
  const payload = commandPayload(input, now)
  return { jws: await signJws(payload, signer), payload }
}

/** What a result may say beyond its status: the key that asked, what a key command changed. */
export interface ResultExtras {
  readonly by?: string
  readonly change?: KeyChange
}

export function resultPayload (vin: string, jti: string, status: ResultStatus, reason: string | undefined, ts: number, extras: ResultExtras = {}): ResultPayload {
  const base: ResultPayload = status === 'executed' ? { v: 1, vin, jti, status, ts } : { v: 1, vin, jti, status, reason, ts }
  return {
    ...base,
    ...(extras.by !== undefined ? { by: extras.by } : {}),
    ...(extras.change !== undefined ? { change: { ...extras.change } } : {}),
  }
}

/** The car's answer to one command, bound to the command's jti and signed by the car's own key. */
export async function signResult (vin: string, jti: string, status: ResultStatus, reason: string | undefined, signer: SigningKey, now: number = Date.now(), extras: ResultExtras = {}): Promise<string> {
  return await signJws(resultPayload(vin, jti, status, reason, now, extras), signer)
}

/** The car's key list as it publishes it (retained on vehicles/{vin}/keys), signed by the car's own key. */
export async function signKeyRecord (vin: string, seq: number, keys: readonly KeyEntryView[], signer: SigningKey, now: number = Date.now()): Promise<string> {
  const payload: KeyRecordPayload = { v: 1, vin, seq, ts: now, keys: keys.map((k) => ({ ...k })) }
  return await signJws(payload, signer)
}
