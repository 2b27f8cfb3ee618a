// Signing commands (fleet backend) and results (car): JWS compact, ES256, x5c =
// the signer's leaf + issuing CA (README "Signed commands"). Pure: key, chain,
// clock and jti come in.
import { randomUUID, type KeyObject } from 'node:crypto'
import { CompactSign } from 'jose'
import type { CommandPayload, ResultPayload, ResultStatus } from './envelope.js'
import { DEFAULT_MAX_LIFETIME_MS } from './verify.js'

/** A signing identity: its private key and its certificate chain (DER, leaf first, then the issuing CA). */
export interface SigningKey {
  readonly key: KeyObject
  readonly chain: readonly Uint8Array[]
}

const encoder = new TextEncoder()

export async function signJws (payload: object, signer: SigningKey): Promise<string> {
  const x5c = signer.chain.slice(0, 2).map((d) => Buffer.from(d).toString('base64'))
  return await new CompactSign(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ES256', x5c })
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
export async function signCommand (input: CommandInput, signer: SigningKey, now: number = Date.now()): Promise<{ jws: string; payload: CommandPayload }> {
  const payload = commandPayload(input, now)
  return { jws: await signJws(payload, signer), payload }
}

export function resultPayload (vin: string, jti: string, status: ResultStatus, reason: string | undefined, ts: number): ResultPayload {
  return status === 'executed' ? { v: 1, vin, jti, status, ts } : { v: 1, vin, jti, status, reason, ts }
}

/** The car's answer to one command, bound to the command's jti and signed by the car's own key. */
export async function signResult (vin: string, jti: string, status: ResultStatus, reason: string | undefined, signer: SigningKey, now: number = Date.now()): Promise<string> {
  return await signJws(resultPayload(vin, jti, status, reason, now), signer)
}
