// Attacks on signed commands. They are decided by the car, not the broker:
// the attacker publishes through a backend connection (a stolen login or a
// compromised broker can always deliver bytes to the car) and reads the car's
// signed result, whose signature is verified before its reason is believed.
import { randomUUID } from 'node:crypto'
import { commandPayload, generateKey, signCommand, signJws, type CommandInput, type SigningKey } from '../../src/index.js'
import type { AttackContext } from './context.js'
import type { CommandOutcome } from '../backend.js'
import { existsSync } from 'node:fs'
import { type Attack, type ExpectedReason, type Observation } from './types.js'
import { Inconclusive, SkipAttack } from './not-judged.js'

function observe (out: CommandOutcome, ctx: AttackContext): Observation {
  switch (out.kind) {
    case 'result':
      return out.result.status === 'rejected'
        ? { blocked: true, observed: `car answered rejected (signed result verified, ${Math.round(out.rttMs)} ms)`, reasonSeen: out.result.reason }
        : { blocked: false, observed: 'car answered executed (signed result verified)', reasonSeen: 'executed' }
    case 'closed':
      return { blocked: true, observed: 'the broker closed the sender\'s connection (edge check: --enforce-signed-commands)' }
    case 'timeout':
      throw new Inconclusive(`no signed result from ${ctx.victimVin} within ${ctx.resultWaitMs} ms` +
        (out.ignored > 0 ? ` (${out.ignored} unverifiable results ignored)` : '') + ': is the victim car online?')
  }
}

function b64url (s: string): string { return Buffer.from(s).toString('base64url') }

interface CommandAttackSpec {
  readonly id: string
  readonly title: string
  readonly expects: ExpectedReason
  readonly means: string
  /** the JWS to deliver and the jti the car will answer */
  build (ctx: AttackContext): Promise<{ jws: string; jti: string }>
}

function commandAttack (spec: CommandAttackSpec): Attack {
  return {
    id: spec.id, title: spec.title, expects: spec.expects, means: spec.means, family: 'command', decider: 'car',
    async run (ctx) {
      const { jws, jti } = await spec.build(ctx)
      return observe(await ctx.sendToVictim(jws, jti), ctx)
    },
  }
}

const backendKey = (ctx: AttackContext): SigningKey => ctx.backendCredentials().signing

async function legit (ctx: AttackContext, input: Omit<CommandInput, 'vin'> & { vin?: string }, key: SigningKey = backendKey(ctx)) {
  const { jws, payload } = await signCommand({ vin: ctx.victimVin, ttlMs: 30_000, ...input }, key)
  return { jws, jti: payload.jti }
}

export const forgedSignature = commandAttack({
  id: 'forged-signature',
  title: 'Forged signature',
  expects: 'bad_signature',
  means: 'A command that names the genuine backend certificate in x5c but is signed with the attacker\'s own key.',
  async build (ctx) {
    const payload = commandPayload({ vin: ctx.victimVin, cmd: 'unlock', ttlMs: 30_000 })
    return { jws: await signJws(payload, { key: generateKey(), chain: backendKey(ctx).chain }), jti: payload.jti }
  },
})

export const payloadTampering = commandAttack({
  id: 'payload-tampering',
  title: 'Payload tampering',
  expects: 'bad_signature',
  means: 'A genuine signed flash_lights command intercepted and changed to unlock, the signature left as it was.',
  async build (ctx) {
    const { jws, jti } = await legit(ctx, { cmd: 'flash_lights' })
    const [h, p, s] = jws.split('.') as [string, string, string]
    const body = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>
    body.cmd = 'unlock'
    return { jws: `${h}.${b64url(JSON.stringify(body))}.${s}`, jti }
  },
})

export const expiredCommand = commandAttack({
  id: 'expired-command',
  title: 'Expired command',
  expects: 'expired',
  means: 'A genuine command recorded two minutes ago (30 s lifetime) and delivered late, e.g. held back by a man in the middle.',
  build: (ctx) => legit(ctx, { cmd: 'unlock', iat: Date.now() - 120_000, ttlMs: 30_000 }),
})

export const wrongVin = commandAttack({
  id: 'wrong-vin',
  title: 'Command for another VIN',
  expects: 'wrong_vin',
  means: 'A genuine command signed for another car, delivered to the victim\'s command topic (one car\'s command replayed against another).',
  build: (ctx) => legit(ctx, { vin: ctx.attackerVin, cmd: 'unlock' }),
})

export const untrustedSigner = commandAttack({
  id: 'untrusted-signer',
  title: 'Untrusted signer',
  expects: 'untrusted_signer',
  means: 'A correctly signed command whose signer certificate comes from a rogue CA (x5c = rogue leaf + rogue CA).',
  build: (ctx) => legit(ctx, { cmd: 'unlock' }, ctx.signer(ctx.pki.rogue.vehicle)),
})

export const noPrivilege = commandAttack({
  id: 'signer-without-privilege',
  title: 'Signer without the privilege',
  expects: 'insufficient_privileges',
  means: 'A command signed by a genuine fleet certificate whose role may not command cars (the read-only fleet monitor).',
  build: (ctx) => legit(ctx, { cmd: 'unlock' }, ctx.signer(ctx.pki.monitor)),
})

export const algNone = commandAttack({
  id: 'alg-none',
  title: 'alg: none',
  expects: 'malformed',
  means: 'An unsigned token (JWS header alg "none", empty signature), the classic JWT verification bypass.',
  async build (ctx) {
    const payload = commandPayload({ vin: ctx.victimVin, cmd: 'unlock', ttlMs: 30_000 })
    const x5c = backendKey(ctx).chain.map((d) => Buffer.from(d).toString('base64'))
    return { jws: `${b64url(JSON.stringify({ alg: 'none', x5c }))}.${b64url(JSON.stringify(payload))}.`, jti: payload.jti }
  },
})

export const unknownCommand = commandAttack({
  id: 'unknown-command',
  title: 'Unknown command',
  expects: 'unknown_command',
  means: 'A genuinely signed command that is not in the car\'s allowlist (e.g. "disable_immobilizer"): the car has no generic "execute".',
  build: (ctx) => legit(ctx, { cmd: 'disable_immobilizer' }),
})

export const badArgs = commandAttack({
  id: 'bad-arguments',
  title: 'Bad arguments',
  expects: 'bad_args',
  means: 'A genuinely signed set_charge_limit with an out-of-range argument ({"percent": 5}): arguments are checked against a schema.',
  build: (ctx) => legit(ctx, { cmd: 'set_charge_limit', args: { percent: 5 } }),
})

export const replay: Attack = {
  id: 'replay',
  title: 'Replay',
  family: 'command',
  decider: 'car',
  expects: 'replayed',
  means: 'A genuine, fresh command (flash_lights) sent twice. The first is executed; the copy must be refused.',
  async run (ctx) {
    const { jws, jti } = await legit(ctx, { cmd: 'flash_lights', jti: randomUUID() })
    const first = await ctx.sendToVictim(jws, jti)
    if (first.kind !== 'result' || first.result.status !== 'executed') {
      throw new Inconclusive(`the original command was not executed (${first.kind === 'result' ? `rejected: ${first.result.reason ?? ''}` : first.kind}), so the replay cannot be judged`)
    }
    const o = observe(await ctx.sendToVictim(jws, jti), ctx)
    return { ...o, observed: `original executed; copy: ${o.observed}` }
  },
}

type SignerCase = keyof AttackContext['pki']['attack']['signers']

/** A genuine fleet certificate of the backend role, made for something else than signing commands (security review 8). */
function misusedSigner (id: string, title: string, which: SignerCase, means: string): Attack {
  return commandAttack({
    id, title, expects: 'untrusted_signer', means,
    build (ctx) {
      const pair = ctx.pki.attack.signers[which]
      if (!existsSync(pair.cert)) throw new SkipAttack(`${pair.cert} is missing: this dev PKI predates it (re-make it with \`fleetgate pki init --force\`)`)
      return legit(ctx, { cmd: 'unlock' }, ctx.signer(pair))
    },
  })
}

export const signerServerEku = misusedSigner('signer-server-eku', 'Signer certificate for TLS servers', 'serverEku',
  'An unlock signed with a fleet-issued OU=fleet-backend certificate whose EKU is serverAuth only (a web server\'s certificate, say): it was never meant to speak for a client.')
export const signerNoEku = misusedSigner('signer-no-eku', 'Signer certificate without EKU', 'noEku',
  'An unlock signed with a fleet-issued OU=fleet-backend certificate that has no extendedKeyUsage at all (OpenSSL would take it for anything).')
export const signerKeyEncipherment = misusedSigner('signer-key-encipherment', 'Signer key not for signatures', 'keyEncipherment',
  'An unlock signed with a fleet-issued OU=fleet-backend certificate whose keyUsage is keyEncipherment alone: its key may not sign.')
export const signerTwoOus = misusedSigner('signer-two-ous', 'Signer with two roles', 'twoOus',
  'An unlock signed by a certificate with OU=fleet-backend and OU=fleet-monitor: the broker refuses such a certificate (no_role), and the car must not pick one of its roles.')
