// Revocation: a certificate revoked through the store (the same store the
// broker reads: --redis or --data-dir) while its session is live, then used
// again. Without a store the attacks are SKIPPED, never PASS.
import type { Attack } from './types.js'
import type { AttackContext } from './context.js'
import { attempt, closedWithin, describeOutcome, type ConnectOutcome } from './client.js'
import { Inconclusive, SkipAttack } from './not-judged.js'

/** how long a live session of a revoked certificate may stay open (ARCHITECTURE.md step 9: within a second; margin for the round trips) */
export const LIVE_KICK_MS = 2500

const NO_STORE = 'no revocation store given (--redis <url> or --data-dir <dir>, the store the broker reads)'

function connectVictim (ctx: AttackContext): Promise<ConnectOutcome> {
  // attack/victim is a vehicle certificate for the PKI's first VIN: its clientId is that VIN
  return attempt(ctx.scope, ctx.addr, ctx.tls(ctx.victimCert), { clientId: ctx.pki.vehicles[0]!.vin })
}

export const revokedLiveSession: Attack = {
  id: 'revoked-live-session',
  title: 'Revoked certificate, live session',
  family: 'revocation',
  decider: 'broker',
  expects: 'revoked',
  means: 'A car\'s certificate is revoked (key stolen) while it is connected. Its live session must be closed at once, not at its next reconnect.',
  async run (ctx) {
    if (!ctx.revoke) throw new SkipAttack(NO_STORE)
    let o = await connectVictim(ctx)
    if (o.kind !== 'connected' && ctx.freshVictim) {
      // attack/victim was revoked by an earlier run: use a fresh victim certificate from the PKI's issuing CA
      ctx.victimCert = await ctx.freshVictim()
      o = await connectVictim(ctx)
    }
    if (o.kind !== 'connected') throw new Inconclusive(`sanity check failed: the victim certificate was refused before its revocation (${describeOutcome(o)})`)
    // listen before revoking: a fast store may have the session closed before revoke() returns
    const started = performance.now()
    const closing = closedWithin(o.client, LIVE_KICK_MS)
    await ctx.revokeVictim()
    const ms = await closing
    const total = Math.round(ms ?? performance.now() - started)
    return ms === null
      ? { blocked: false, observed: `connected before; still open ${(LIVE_KICK_MS / 1000).toFixed(1)} s after the revocation` }
      : { blocked: true, observed: `connected before; closed ${total} ms after the revocation` }
  },
}

export const revokedCertificate: Attack = {
  id: 'revoked-certificate',
  title: 'Revoked certificate',
  family: 'revocation',
  decider: 'broker',
  expects: 'revoked',
  means: 'The revoked certificate tries to connect again (the thief reconnects).',
  async run (ctx) {
    if (!ctx.revoke) throw new SkipAttack(NO_STORE)
    await ctx.revokeVictim()
    const o = await connectVictim(ctx)
    return { blocked: o.kind !== 'connected', observed: describeOutcome(o) }
  },
}
