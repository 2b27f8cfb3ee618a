// Attacks on the way in: certificates the broker must not accept, and a
// legitimate car that tries to become another car at CONNECT.
import { existsSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CertKeyPaths } from '../../src/testing.js'
import { attackerPair, type AttackContext } from './context.js'
import { attempt, describeOutcome } from './client.js'
import { TLS_REFUSED, type Attack, type ExpectedReason, type Observation } from './types.js'
import { Inconclusive, SkipAttack } from './not-judged.js'
import { vehicleTopics } from '../topics.js'

/** Connect with these credentials and this clientId: blocked unless CONNACK 0. */
async function refusedAtConnect (ctx: AttackContext, pair: CertKeyPaths | null, clientId: string): Promise<Observation> {
  const o = await attempt(ctx.scope, ctx.addr, ctx.tls(pair), { clientId })
  return { blocked: o.kind !== 'connected', observed: describeOutcome(o) }
}

function certificateAttack (id: string, title: string, expects: ExpectedReason, means: string, pair: (ctx: AttackContext) => CertKeyPaths | null): Attack {
  return {
    id, title, expects, means, family: expects === TLS_REFUSED ? 'tls' : 'connect', decider: 'broker',
    run: (ctx) => refusedAtConnect(ctx, pair(ctx), ctx.attackerVin),
  }
}

export const noCertificate = certificateAttack('no-certificate', 'No client certificate', TLS_REFUSED,
  'A client that shows no certificate at all (a stolen password or none) tries to speak MQTT. It must not get past the TLS handshake.',
  () => null)

export const rogueCa = certificateAttack('rogue-ca-lookalike', 'Rogue-CA look-alike certificate', TLS_REFUSED,
  'A certificate with the same subject as a real car (CN=<VIN>, OU=vehicle) but issued by a CA the fleet does not trust. Only the chain counts, never the name.',
  (ctx) => ctx.pki.rogue.vehicle)

export const expiredCertificate = certificateAttack('expired-certificate', 'Expired certificate', TLS_REFUSED,
  'A genuine fleet certificate whose validity ended yesterday (a scrapped or stolen unit). It must not connect.',
  (ctx) => ctx.pki.attack.expired)

export const noClientAuth = certificateAttack('no-client-auth', 'Certificate without clientAuth (no EKU)', 'no_client_auth',
  'A fleet-issued certificate with no extended key usage: it was never meant to authenticate a client. The broker refuses it at CONNECT.',
  (ctx) => ctx.pki.attack.noEku)

export const serverEku = certificateAttack('server-auth-only', 'Certificate with serverAuth EKU only', TLS_REFUSED,
  'A fleet-issued server certificate (EKU serverAuth, no clientAuth) used as a client certificate, e.g. one taken from another server. ' +
  'The TLS stack\'s purpose check already refuses it; fleetgate\'s own check (no_client_auth) stands behind it.',
  (ctx) => ctx.pki.attack.serverEku)

export const clientIdTakeover: Attack = {
  id: 'client-id-takeover',
  title: 'clientId takeover of another VIN',
  family: 'connect',
  decider: 'broker',
  expects: 'client_id_mismatch',
  means: 'A genuine car connects with another car\'s VIN as its MQTT clientId. A plain broker would drop the victim\'s session and hand its persistent state to the attacker.',
  async run (ctx) {
    await ctx.victimOnline()
    const o = await attempt(ctx.scope, ctx.addr, ctx.tls(attackerPair(ctx)), { clientId: ctx.victimVin })
    if (o.kind !== 'connected') return { blocked: true, observed: describeOutcome(o) }
    // A plain broker: the victim car was kicked; let it come back before the next attack.
    await o.client.endAsync(true).catch(() => {})
    await sleep(200)
    const kicked = ctx.victimCar !== undefined && ctx.victimCar.events.slice(-20).some((e) => e.evt === 'offline' || e.evt === 'reconnecting')
    await ctx.victimOnline(10_000).catch(() => {})
    return { blocked: false, observed: `CONNACK 0 as clientId ${ctx.victimVin}${kicked ? ' (the victim car was disconnected)' : ''}` }
  },
}

export const willOnCommands: Attack = {
  id: 'will-on-command-topic',
  title: 'Will on another car\'s command topic',
  family: 'connect',
  decider: 'broker',
  expects: 'will_denied',
  means: 'A genuine car registers a Last Will on the victim\'s command topic, so that its own disconnect delivers a message to the victim car. The Will is checked like a publish at CONNECT.',
  async run (ctx) {
    const topic = vehicleTopics(ctx.victimVin).commands
    const o = await attempt(ctx.scope, ctx.addr, ctx.tls(attackerPair(ctx)), {
      clientId: ctx.attackerVin,
      will: { topic, payload: Buffer.from('{"will":"attacker"}'), qos: 1, retain: false },
    })
    if (o.kind !== 'connected') return { blocked: true, observed: describeOutcome(o) }
    // drop the connection without DISCONNECT: the broker publishes the Will
    const seenBefore = ctx.victimCar?.events.length ?? 0
    o.client.stream.destroy()
    await sleep(ctx.windowMs)
    const delivered = ctx.victimCar?.events.slice(seenBefore).some((e) => e.evt === 'command') === true
    return { blocked: false, observed: `CONNACK 0 with a Will on ${topic}${delivered ? '; the victim car received the Will as a command' : ''}` }
  },
}

export const prefixSessionTheft: Attack = {
  id: 'prefix-client-id-session-theft',
  title: 'Another identity\'s session through a clientId prefix',
  family: 'connect',
  decider: 'broker',
  expects: 'client_id_mismatch',
  means: 'The backend certificate (CN fleet-backend) may use clientIds fleet-backend-<suffix>, which covers fleet-backend-eu, the clientId of another certificate. ' +
    'That owner makes a persistent session and goes offline; the attacker resumes it to inherit its subscriptions and queue, on any node.',
  async run (ctx) {
    const victim = ctx.pki.attack.prefixVictim
    if (!existsSync(victim.cert)) throw new SkipAttack(`${victim.cert} is missing: this dev PKI predates it (re-make it with \`fleetgate pki init --force\`)`)
    const clientId = 'fleet-backend-eu'
    const owner = await attempt(ctx.scope, ctx.addr, ctx.tls(victim), { clientId, clean: false })
    if (owner.kind !== 'connected') throw new Inconclusive(`the owner could not connect: ${describeOutcome(owner)}`)
    await owner.client.subscribeAsync(vehicleTopics(ctx.victimVin).status, { qos: 1 }).catch(() => {})
    await owner.client.endAsync(false).catch(() => {})
    const thief = await attempt(ctx.scope, ctx.addr, ctx.tls(ctx.pki.backend), { clientId, clean: false })
    if (thief.kind !== 'connected') return { blocked: true, observed: describeOutcome(thief) }
    const present = thief.sessionPresent
    await thief.client.endAsync(false).catch(() => {})
    return { blocked: false, observed: `CONNACK 0 as ${clientId}${present ? ', sessionPresent=1: the owner\'s subscriptions and queue taken' : ''}` }
  },
}
