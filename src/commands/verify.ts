// verifyCommand: a car's decision on one signed command, in the order README "Signed commands" gives
// ("Signed command"): malformed -> untrusted_signer -> bad_signature ->
// insufficient_privileges -> wrong_vin -> ttl_too_long -> not_yet_valid ->
// expired -> unknown_command -> bad_args -> replayed. The cheap shape checks
// run before any cryptography; the replay state changes only when every other
// check holds. Pure: clock, trust and replay set come in.
import { compactVerify } from 'jose'
import type { CommandReason } from '../contract/reasons.js'
import { argsValid, isCommandName, roleMaySend, DEFAULT_COMMAND_ROLES, type CommandName, type CommandRoles } from './catalogue.js'
import { parseCommandJws, type CommandPayload } from './envelope.js'
import type { SignerVerifier, Signer } from './trust.js'
import type { ReplayCache } from './replay.js'

export const DEFAULT_SKEW_MS = 30_000
export const DEFAULT_MAX_LIFETIME_MS = 60_000

export interface CommandPolicy {
  /** allowed clock difference, ms (default 30 s) */
  readonly skewMs?: number
  /** largest exp - iat, ms (default 60 s) */
  readonly maxLifetimeMs?: number
  /** signer role (OU) -> commands it may send (default: fleet-backend may send all) */
  readonly roles?: CommandRoles
}

export interface VerifyContext {
  readonly chains: SignerVerifier
  /** the verifier's own VIN (a car's CN; at the broker edge, the topic's VIN) */
  readonly vin: string
  /** the VIN of the topic the command came on, when known */
  readonly topicVin?: string
  /** ms since the epoch */
  readonly now: number
  /** the seen-jti set; absent: no replay check (the broker edge) */
  readonly replay?: ReplayCache
  /**
   * ms: a command issued (iat) before this is refused `replayed`. A car whose
   * replay set did not survive a restart sets its start time here, so a command
   * it may have executed before the restart cannot be replayed to it.
   */
  readonly replayFloor?: number
  /**
   * 'full' (a car, default): all eleven checks. 'authenticity' (the broker
   * edge): malformed .. wrong_vin only; freshness, the allowlist and replay
   * stay with the car, whose clock and state are the ones that count.
   */
  readonly scope?: 'full' | 'authenticity'
}

export interface VerifiedCommand extends CommandPayload { readonly cmd: CommandName }

export type CommandDecision =
  | { ok: true; command: VerifiedCommand; signer: Signer }
  | {
    ok: false
    reason: CommandReason
    /** for the log, never for the sender */
    detail: string
    /** the command's jti when it had one (a command with none gets no answer) */
    jti?: string
    /** the signer once the chain held */
    signer?: Signer
  }

export async function verifyCommand (jws: string, ctx: VerifyContext, policy: CommandPolicy = {}): Promise<CommandDecision> {
  const skew = policy.skewMs ?? DEFAULT_SKEW_MS
  const maxLifetime = policy.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS
  const roles = policy.roles ?? DEFAULT_COMMAND_ROLES

  // 1. malformed: size, three base64url parts, header and payload JSON shape, alg exactly ES256.
  const shape = parseCommandJws(jws)
  if (!shape.ok) return { ok: false, reason: 'malformed', detail: shape.detail, jti: shape.jti }
  const { header, payload: c } = shape.value
  const jti = c.jti
  const refuse = (reason: CommandReason, detail: string, signer?: Signer): CommandDecision => ({ ok: false, reason, detail, jti, signer })

  // 2. untrusted_signer: x5c chains leaf -> fleet issuing CA -> pinned root, dates held.
  const chain = await ctx.chains.verify(header.x5c, ctx.now)
  if (!chain.ok) return refuse('untrusted_signer', chain.detail)
  const signer = chain.signer

  // 3. bad_signature: jose, ES256 only, with the key of the verified leaf.
  try {
    await compactVerify(shape.value.compact, signer.cryptoKey, { algorithms: ['ES256'] })
  } catch {
    return refuse('bad_signature', 'the signature does not verify with the x5c leaf key', signer)
  }

  // 4. insufficient_privileges: the car's own role table (signer OU).
  if (!roleMaySend(roles, signer.ou, c.cmd)) return refuse('insufficient_privileges', `role ${String(signer.ou)} may not send ${c.cmd}`, signer)
  // 5. wrong_vin: not this car, or not the topic's car.
  if (c.vin !== ctx.vin || (ctx.topicVin !== undefined && c.vin !== ctx.topicVin)) return refuse('wrong_vin', 'vin is not the target', signer)
  if (ctx.scope === 'authenticity') return { ok: true, command: c as VerifiedCommand, signer }
  // 6-8. lifetime and freshness (ms).
  if (c.exp - c.iat > maxLifetime) return refuse('ttl_too_long', `exp - iat = ${c.exp - c.iat} ms`, signer)
  if (c.iat > ctx.now + skew) return refuse('not_yet_valid', 'iat is in the future', signer)
  if (ctx.now > c.exp + skew) return refuse('expired', 'exp has passed', signer)
  // 9-10. the allowlist and its argument schema.
  if (!isCommandName(c.cmd)) return refuse('unknown_command', 'not in the allowlist', signer)
  if (!argsValid(c.cmd, c.args)) return refuse('bad_args', `args do not fit ${c.cmd}`, signer)
  // 11. replayed: last, so only a command that holds in every other way is remembered.
  if (ctx.replayFloor !== undefined && c.iat < ctx.replayFloor) return refuse('replayed', 'issued before this car began remembering commands (restarted without its replay memory)', signer)
  if (ctx.replay) {
    const seen = ctx.replay.checkAndAdd(c.jti, c.exp + skew, ctx.now)
    if (seen === 'replayed') return refuse('replayed', 'jti already seen', signer)
    if (seen === 'full') return refuse('replayed', 'replay cache full: cannot prove the jti is new', signer)
  }
  return { ok: true, command: c as VerifiedCommand, signer }
}
