// verifyResult: the backend's check of a car's signed answer: shape, ES256,
// x5c chains to the pinned root through the fleet issuing CA, the leaf is that
// car (CN = VIN, OU = vehicle), and it answers this command (jti). Pure.
import { compactVerify } from 'jose'
import { parseResultJws, type ResultPayload } from './envelope.js'
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
  const chain = await ctx.chains.verify(header.x5c, ctx.now)
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
