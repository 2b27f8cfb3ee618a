// verifyResult: the backend's check of a car's signed answer: shape, ES256,
// x5c chains to the pinned root through the fleet issuing CA, the leaf is that
// car (CN = VIN, OU = vehicle), and it answers this command (jti). Pure.
import { compactVerify } from 'jose'
import { parseKeyRecordJws, parseResultJws, type KeyRecordPayload, type ResultPayload } from './envelope.js'
import type { SignerVerifier, Signer } from './trust.js'

export interface ResultContext {
  readonly chains: SignerVerifier
  readonly vin: string
  readonly jti: string
  readonly now: number
}

export type ResultDecision =
  | { ok: true; result: ResultPayload; signer: Signer }
  | { ok: false; problem: string }

export const VEHICLE_OU = 'vehicle'

export async function verifyResult (jws: string, ctx: ResultContext): Promise<ResultDecision> {
  const shape = parseResultJws(jws)
  if (!shape.ok) return { ok: false, problem: `malformed result: ${shape.detail}` }
  const { header, payload } = shape.value
  const chain = await ctx.chains.verify(header.x5c!, ctx.now)
  if (!chain.ok) return { ok: false, problem: `untrusted result signer: ${chain.detail}` }
  try {
    await compactVerify(jws, chain.signer.cryptoKey, { algorithms: ['ES256'] })
  } catch {
    return { ok: false, problem: 'result signature does not verify' }
  }
  if (chain.signer.cn !== ctx.vin || chain.signer.ou !== VEHICLE_OU) return { ok: false, problem: 'result not signed by the target vehicle' }
  if (payload.vin !== ctx.vin) return { ok: false, problem: 'result names another vehicle' }
  if (payload.jti !== ctx.jti) return { ok: false, problem: 'result answers another command' }
  return { ok: true, result: payload, signer: chain.signer }
}

/** The fleet's check of a car's published key list: same trust as a result (that car's own certificate). */
export type KeyRecordDecision = { ok: true; record: KeyRecordPayload; signer: Signer } | { ok: false; reason: 'malformed' | 'untrusted_signer' | 'bad_signature' | 'wrong_vin'; problem: string }

export async function verifyKeyRecord (jws: string, ctx: { chains: SignerVerifier; vin: string; now: number }): Promise<KeyRecordDecision> {
  const shape = parseKeyRecordJws(jws)
  if (!shape.ok) return { ok: false, reason: 'malformed', problem: `malformed key record: ${shape.detail}` }
  const chain = await ctx.chains.verify(shape.value.header.x5c!, ctx.now)
  if (!chain.ok) return { ok: false, reason: 'untrusted_signer', problem: `untrusted key record signer: ${chain.detail}` }
  try {
    await compactVerify(jws, chain.signer.cryptoKey, { algorithms: ['ES256'] })
  } catch {
    return { ok: false, reason: 'bad_signature', problem: 'key record signature does not verify' }
  }
  if (chain.signer.cn !== ctx.vin || chain.signer.ou !== VEHICLE_OU) return { ok: false, reason: 'untrusted_signer', problem: 'key record not signed by that vehicle' }
  if (shape.value.payload.vin !== ctx.vin) return { ok: false, reason: 'wrong_vin', problem: 'key record names another vehicle' }
  return { ok: true, record: shape.value.payload, signer: chain.signer }
}
