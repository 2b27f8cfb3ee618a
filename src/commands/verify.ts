// verifyCommand: a car's decision on one signed command, in the order README "Signed commands" gives
// ("Signed command"): malformed -> untrusted_signer (x5c) / unknown_key (kid) -> bad_signature ->
// insufficient_privileges -> wrong_vin -> ttl_too_long -> not_yet_valid ->
// expired -> unknown_command -> bad_args -> role_forbids -> replayed. The cheap shape checks
// run before any cryptography; the replay state changes only when every other
// check holds. Pure: clock, trust, the car's key list and replay set come in.
import { webcrypto } from 'node:crypto'
import { compactVerify } from 'jose'
import type { CommandReason } from '../contract/reasons.js'
import {
  argsProblem, isCommandName, isKeyCommand, roleMayCommand, roleMaySend, DEFAULT_COMMAND_ROLES, type CommandName, type CommandRoles,
} from './catalogue.js'
import { parseCommandJws, type CommandPayload } from './envelope.js'
import {
  certificateRole, findKey, planKeyChange, roleAllows, DEFAULT_BACKEND_ROLE,
  type KeyChange, type KeyList, type KeyRole, type UserKey,
} from './keys.js'
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
  /**
   * The car's key list. With it, a kid-signed command is judged by its key's role and a
   * certificate-signed one by its entry's role (the backend's, from the car's policy);
   * key commands change it. Without it a kid is unknown_key and key commands role_forbids.
   */
  readonly keys?: CarKeys
}

/** The car's key list and the role its policy gives the fleet backend's entry. */
export interface CarKeys {
  readonly list: KeyList
  /** default fleet-manager */
  readonly backendRole?: KeyRole
}

export interface VerifiedCommand extends CommandPayload { readonly cmd: CommandName }

export type CommandDecision =
  | {
    ok: true
    command: VerifiedCommand
    /** the certificate that signed it (x5c form) */
    signer?: Signer
    /** the key that asked: a kid, or the thumbprint of the signer certificate's key */
    by: string
    /** its role in the car's key list (absent without a key list) */
    role?: KeyRole
    /** an executed key command: the car's new list and what changed (commit it, then answer) */
    keyChange?: { list: KeyList; change: KeyChange }
  }
  | {
    ok: false
    reason: CommandReason
    /** for the log, never for the sender */
    detail: string
    /** the command's jti when it had one (a command with none gets no answer) */
    jti?: string
    /** the signer once the chain held */
    signer?: Signer
    /** the key that asked, once its signature held */
    by?: string
  }

// A listed key imported once (the list's entries are immutable objects): weakly held, gone with its entry.
const imported = new WeakMap<UserKey, Promise<webcrypto.CryptoKey>>()

function cryptoKeyOf (entry: UserKey): Promise<webcrypto.CryptoKey> {
  let key = imported.get(entry)
  if (key === undefined) {
    const { kty, crv, x, y } = entry.jwk
    key = webcrypto.subtle.importKey('jwk', { kty, crv, x, y }, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify'])
    imported.set(entry, key)
  }
  return key
}

async function verifiesWith (compact: string, entry: UserKey): Promise<boolean> {
  try {
    await compactVerify(compact, await cryptoKeyOf(entry), { algorithms: ['ES256'] })
    return true
  } catch {
    return false
  }
}

export async function verifyCommand (jws: string, ctx: VerifyContext, policy: CommandPolicy = {}): Promise<CommandDecision> {
  const skew = policy.skewMs ?? DEFAULT_SKEW_MS
  const maxLifetime = policy.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS
  const roles = policy.roles ?? DEFAULT_COMMAND_ROLES

  // 1. malformed: size, three base64url parts, header and payload JSON shape, alg exactly ES256, x5c or kid.
  const shape = parseCommandJws(jws)
  if (!shape.ok) return { ok: false, reason: 'malformed', detail: shape.detail, jti: shape.jti }
  const { header, payload: c } = shape.value
  const jti = c.jti
  let signer: Signer | undefined
  let by: string | undefined
  const refuse = (reason: CommandReason, detail: string): CommandDecision => ({ ok: false, reason, detail, jti, signer, by })
  // the role that decides (kid: its key's; x5c with a key list: its entry's); null: no key list
  let role: KeyRole | null = null

  if (header.kid !== undefined) {
    // The broker's edge holds no key list: it checks the VIN binding; the car checks the key.
    if (ctx.scope === 'authenticity') {
      if (c.vin !== ctx.vin || (ctx.topicVin !== undefined && c.vin !== ctx.topicVin)) return refuse('wrong_vin', 'vin is not the target')
      return { ok: true, command: c as VerifiedCommand, by: header.kid }
    }
    // 2. unknown_key: not in this car's list (never added, removed, past its window, another car's).
    if (ctx.keys === undefined) return refuse('unknown_key', 'this verifier holds no key list')
    const found = findKey(ctx.keys.list, header.kid, ctx.now)
    if (found === undefined) return refuse('unknown_key', 'kid is not in the car\'s key list')
    if ('expired' in found) return refuse('unknown_key', 'the key\'s window has ended')
    // 3. bad_signature: with the listed key.
    if (!await verifiesWith(shape.value.compact, found)) return refuse('bad_signature', 'the signature does not verify with the listed key')
    by = found.kid
    role = found.role
  } else {
    // 2. untrusted_signer: x5c chains leaf -> fleet issuing CA -> pinned root, dates held.
    const chain = await ctx.chains.verify(header.x5c!, ctx.now)
    if (!chain.ok) return refuse('untrusted_signer', chain.detail)
    signer = chain.signer
    // 3. bad_signature: jose, ES256 only, with the key of the verified leaf.
    try {
      await compactVerify(shape.value.compact, signer.cryptoKey, { algorithms: ['ES256'] })
    } catch {
      return refuse('bad_signature', 'the signature does not verify with the x5c leaf key')
    }
    by = signer.kid
    // 4. insufficient_privileges: the car's certificate role table (signer OU); key commands are judged by the list below.
    if (!roleMayCommand(roles, signer.ou) || (!isKeyCommand(c.cmd) && !roleMaySend(roles, signer.ou, c.cmd))) {
      return refuse('insufficient_privileges', `role ${String(signer.ou)} may not send ${c.cmd}`)
    }
    if (ctx.keys !== undefined && ctx.scope !== 'authenticity') {
      const entry = certificateRole(ctx.keys.list, signer.ou, ctx.keys.backendRole ?? DEFAULT_BACKEND_ROLE)
      if (entry === undefined) return refuse('unknown_key', `the car's key list has no entry for ${String(signer.ou)} certificates`)
      role = entry
    }
  }

  // 5. wrong_vin: not this car, or not the topic's car.
  if (c.vin !== ctx.vin || (ctx.topicVin !== undefined && c.vin !== ctx.topicVin)) return refuse('wrong_vin', 'vin is not the target')
  if (ctx.scope === 'authenticity') return { ok: true, command: c as VerifiedCommand, signer, by }
  // 6-8. lifetime and freshness (ms).
  if (c.exp - c.iat > maxLifetime) return refuse('ttl_too_long', `exp - iat = ${c.exp - c.iat} ms`)
  if (c.iat > ctx.now + skew) return refuse('not_yet_valid', 'iat is in the future')
  if (ctx.now > c.exp + skew) return refuse('expired', 'exp has passed')
  // 9-10. the allowlist and its argument schema.
  if (!isCommandName(c.cmd)) return refuse('unknown_command', 'not in the allowlist')
  const argProblem = argsProblem(c.cmd, c.args)
  if (argProblem !== null) return refuse('bad_args', argProblem)
  // 11. role_forbids: the asking key's role (README "Roles").
  if (role !== null && !roleAllows(role, c.cmd)) return refuse('role_forbids', `role ${role} may not send ${c.cmd}`)
  if (role === null && isKeyCommand(c.cmd)) return refuse('role_forbids', 'no key list here: key commands need an owner key of the car')
  // 12. replayed: last, so only a command that holds in every other way is remembered.
  if (ctx.replayFloor !== undefined && c.iat < ctx.replayFloor) return refuse('replayed', 'issued before this car began remembering commands (restarted without its replay memory)')
  // a copy of an executed key command is a replay, not a list conflict: looked up (not recorded) first
  if (ctx.replay?.has(c.jti, ctx.now) === true) return refuse('replayed', 'jti already seen')
  // a key command must also fit the list as it is (not the last owner, not a key already there...)
  let keyChange: { list: KeyList; change: KeyChange } | undefined
  if (isKeyCommand(c.cmd)) {
    const plan = await planKeyChange(ctx.keys!.list, c.cmd, c.args, by, ctx.now)
    if (!plan.ok) return refuse('bad_args', plan.detail)
    keyChange = { list: plan.list, change: plan.change }
  }
  if (ctx.replay) {
    const seen = ctx.replay.checkAndAdd(c.jti, c.exp + skew, ctx.now)
    if (seen === 'replayed') return refuse('replayed', 'jti already seen')
    if (seen === 'full') return refuse('replayed', 'replay cache full: cannot prove the jti is new')
  }
  return {
    ok: true, command: c as VerifiedCommand, signer, by,
    ...(role !== null ? { role } : {}),
    ...(keyChange !== undefined ? { keyChange } : {}),
  }
}
