// Attacks through topics: a genuine car (the attacker holds its certificate)
// reads or writes another car's topics, or discovers the broker via $SYS.
// Traffic on the victim's topics is made by the legit backend (a signed,
// harmless flash_lights command and the car's signed answer), so these
// attacks also work with --no-cars.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { MqttClient } from 'mqtt'
import { signCommand } from '../../src/index.js'
import { attackerPair, type AttackContext } from './context.js'
import { attempt, closedWithin, describeOutcome, hexCodes, publishOutcome, record, subscribeCodes, type Received } from './client.js'
import { type Attack, type Observation } from './types.js'
import { Inconclusive } from './not-judged.js'
import { vehicleTopics } from '../topics.js'

const REFUSED = 0x80

async function attackerClient (ctx: AttackContext, opts: { clean?: boolean } = {}): Promise<MqttClient> {
  const o = await attempt(ctx.scope, ctx.addr, ctx.tls(attackerPair(ctx)), { clientId: ctx.attackerVin, clean: opts.clean ?? true })
  if (o.kind !== 'connected') throw new Inconclusive(`the attacker's own genuine car certificate was refused: ${describeOutcome(o)}`)
  return o.client
}

/** Another vehicle's topic (or $SYS) the attacker must never see. */
function foreign (ctx: AttackContext, topic: string): boolean {
  if (topic.startsWith('$SYS')) return true
  return !topic.startsWith(`vehicles/${ctx.attackerVin}/`)
}

/** The legit backend sends the victim a harmless signed command; the car answers: QoS 1 traffic on two victim topics. */
async function victimTraffic (ctx: AttackContext): Promise<void> {
  try {
    const b = await ctx.backend()
    await b.send({ vin: ctx.victimVin, cmd: 'flash_lights', ttlMs: 30_000 }, { timeoutMs: Math.min(ctx.resultWaitMs, 3000) })
  } catch { /* the traffic is best effort; the SUBACK codes still count */ }
}

/** what the attacker received that it must not have, and how the report puts it */
interface Leaks { readonly leaked: readonly Received[]; readonly text: string }

function summarise (ctx: AttackContext, got: readonly Received[]): Leaks {
  const leaked = got.filter((m) => foreign(ctx, m.topic))
  const topics = [...new Set(leaked.map((m) => m.topic))].slice(0, 3)
  return { leaked, text: leaked.length === 0 ? 'no message from another vehicle' : `received ${leaked.length} message(s) of another vehicle (${topics.join(', ')})` }
}

function summariseSys (got: readonly Received[]): Leaks {
  const sys = got.filter((m) => m.topic.startsWith('$SYS'))
  return { leaked: sys, text: sys.length === 0 ? 'no $SYS message' : `received ${sys.length} $SYS message(s) (${sys[0]!.topic})` }
}

/**
 * The attacker subscribes to `filters` and listens while the victim has
 * traffic: blocked when every filter got SUBACK 0x80 and nothing leaked.
 */
async function subscribeWhileVictimTalks (ctx: AttackContext, filters: readonly string[], leaks: (got: readonly Received[]) => Leaks): Promise<Observation> {
  const c = await attackerClient(ctx)
  const rec = record(c)
  const codes = await subscribeCodes(c, filters, 5000)
  // the backend's new connection is also what a broker with $SYS announces
  await Promise.all([victimTraffic(ctx), sleep(ctx.windowMs)])
  const s = leaks(rec.stop())
  const refused = codes !== null && codes.every((x) => x === REFUSED)
  return { blocked: refused && s.leaked.length === 0, observed: `${hexCodes(codes)}; ${s.text}` }
}

export const wildcardOnline: Attack = {
  id: 'wildcard-subscribe',
  title: 'Wildcard subscription to other vehicles',
  family: 'topic',
  decider: 'broker',
  expects: 'filter_denied',
  means: 'A genuine car subscribes to vehicles/#, vehicles/+/telemetry/+ and vehicles/+/commands to read every other car\'s telemetry and commands. Each such filter must get SUBACK 0x80 and nothing may arrive.',
  run: (ctx) => subscribeWhileVictimTalks(ctx, ['vehicles/#', 'vehicles/+/telemetry/+', 'vehicles/+/commands', '#'], (got) => summarise(ctx, got)),
}

export const wildcardPersistent: Attack = {
  id: 'wildcard-persistent-session',
  title: 'Wildcard subscription through a persistent session',
  family: 'topic',
  decider: 'broker',
  expects: 'filter_denied',
  means: 'The same wildcard subscription in a persistent session (clean=false): the attacker goes offline, other cars\' QoS 1 messages are queued, and it reconnects to collect them. A broker that stores the refused filter anyway leaks them.',
  async run (ctx) {
    const first = await attackerClient(ctx, { clean: false })
    const codes = await subscribeCodes(first, ['vehicles/#', 'vehicles/+/command-results'], 5000)
    await first.endAsync(false).catch(() => {})
    await victimTraffic(ctx)
    const again = await attempt(ctx.scope, ctx.addr, ctx.tls(attackerPair(ctx)), { clientId: ctx.attackerVin, clean: false })
    if (again.kind !== 'connected') throw new Inconclusive(`reconnect refused: ${describeOutcome(again)}`)
    const rec = record(again.client)
    await sleep(ctx.windowMs)
    const s = summarise(ctx, rec.stop())
    await again.client.endAsync(false).catch(() => {})
    // wipe the persistent session so it leaks nothing into later attacks
    const wipe = await attempt(ctx.scope, ctx.addr, ctx.tls(attackerPair(ctx)), { clientId: ctx.attackerVin, clean: true })
    if (wipe.kind === 'connected') await wipe.client.endAsync(false).catch(() => {})
    return { blocked: s.leaked.length === 0, observed: `${hexCodes(codes)}; after reconnect: ${s.text}` }
  },
}

export const sysDiscovery: Attack = {
  id: 'sys-discovery',
  title: '$SYS discovery',
  family: 'topic',
  decider: 'broker',
  expects: 'filter_denied',
  means: 'A genuine car subscribes to $SYS/# to learn the broker\'s version, uptime and every client that connects: reconnaissance for further attacks.',
  run: (ctx) => subscribeWhileVictimTalks(ctx, ['$SYS/#'], summariseSys),
}

export const publishForeign: Attack = {
  id: 'publish-foreign-topic',
  title: 'Publish into another car\'s topic',
  family: 'topic',
  decider: 'broker',
  expects: 'topic_denied',
  means: 'A genuine car publishes forged telemetry under another car\'s VIN. Backends would believe the victim reported it. The broker must close the publisher and deliver nothing.',
  async run (ctx) {
    const topic = vehicleTopics(ctx.victimVin).telemetry('speed')
    const marker = randomUUID()
    const b = await ctx.backend()
    const codes = await subscribeCodes(b.client, [`vehicles/${ctx.victimVin}/telemetry/+`], 5000)
    if (codes === null || codes[0] === REFUSED) throw new Inconclusive(`the observing backend could not subscribe (${hexCodes(codes)})`)
    const rec = record(b.client)
    const c = await attackerClient(ctx)
    const p = await publishOutcome(c, topic, JSON.stringify({ v: 1, ts: Date.now(), value: 250, unit: 'km/h', forged: marker }), {}, 5000)
    await sleep(ctx.windowMs)
    const forged = rec.stop().filter((m) => m.payload.includes(marker))
    const what = p.outcome === 'closed' ? `connection closed after ${Math.round(p.ms)} ms` : p.outcome === 'acked' ? 'PUBACK' : 'no PUBACK, not closed'
    return {
      blocked: forged.length === 0,
      observed: `${what}; ${forged.length === 0 ? 'the observer received nothing' : 'the observer received the forged telemetry'}`,
    }
  },
}

export const retainedCommand: Attack = {
  id: 'retained-command',
  title: 'Retained command poisoning',
  family: 'topic',
  decider: 'broker',
  expects: 'retained_command',
  means: 'A backend login (stolen or buggy) publishes a signed command with the retain flag. The broker would hand it to the car again at every reconnect. Retained commands are always refused.',
  async run (ctx) {
    const b = await ctx.backend()
    const { jws } = await signCommand({ vin: ctx.victimVin, cmd: 'flash_lights', ttlMs: 30_000 }, ctx.backendCredentials().signing)
    const topic = vehicleTopics(ctx.victimVin).commands
    const p = await publishOutcome(b.client, topic, jws, { retain: true }, 5000)
    if (p.outcome === 'acked') {
      // it got through: clear the retained message so later runs and cars are not poisoned
      const clean = await ctx.backend()
      await publishOutcome(clean.client, topic, '', { retain: true }, 3000)
      return { blocked: false, observed: 'PUBACK: the broker stored a retained command (cleared again)' }
    }
    return { blocked: true, observed: p.outcome === 'closed' ? `connection closed after ${Math.round(p.ms)} ms, no PUBACK` : 'no PUBACK' }
  },
}

export const subscribeDenyFlood: Attack = {
  id: 'subscribe-deny-flood',
  title: 'Audit log flood with denied subscriptions',
  family: 'topic',
  decider: 'broker',
  expects: 'too_many_denials',
  means: 'A genuine car sends SUBSCRIBE packets full of filters it may not have (other cars\' telemetry), to make the broker write an audit line per denied filter: 1 MB of filters became ~10 MB of log. One line per packet, and the connection closed after 100 denied filters.',
  async run (ctx) {
    const c = await attackerClient(ctx)
    const gone = closedWithin(c, 5000)
    let sent = 0
    // at most 10 packets of 40 filters (~2 KB each): bounded, and 4x past the documented limit
    for (let p = 0; p < 10 && c.connected; p++) {
      c.subscribe(Array.from({ length: 40 }, (_, i) => `vehicles/${ctx.victimVin}/telemetry/probe-${p}-${i}`), { qos: 0 }, () => {})
      sent++
      await sleep(50)
    }
    const ms = await gone
    return {
      blocked: ms !== null,
      observed: ms !== null ? `connection closed after ${sent} SUBSCRIBE packet(s) (${sent * 40} filters)` : `all ${sent * 40} filters sent, connection still open`,
    }
  },
}

export const retainedFlood: Attack = {
  id: 'retained-flood',
  title: 'Pinning broker memory with retained messages',
  family: 'topic',
  decider: 'broker',
  expects: 'retain_denied',
  means: 'A genuine car publishes large retained messages on its own telemetry topics. They would stay in the broker (and Redis) after it leaves, ' +
    'and every new telemetry subscriber would receive them all at once: 1,000 of 120 KiB raised a broker from 96 to 244 MiB. Only the role\'s retain topics may be retained.',
  async run (ctx) {
    const topics = Array.from({ length: 5 }, (_, i) => `vehicles/${ctx.attackerVin}/telemetry/pin${i}`)
    const c = await attackerClient(ctx)
    const payload = Buffer.alloc(64 * 1024, 0x70)
    const outcomes = []
    for (const topic of topics) {
      if (!c.connected) break
      outcomes.push((await publishOutcome(c, topic, payload, { retain: true }, 3000)).outcome)
    }
    // what a new subscriber of those topics gets
    const b = await ctx.backend()
    const rec = record(b.client)
    await subscribeCodes(b.client, topics, 5000)
    await sleep(Math.min(ctx.windowMs, 1000))
    const pinned = rec.stop().filter((m) => m.retain)
    if (pinned.length > 0) {
      // it got through: clear them so later runs and subscribers are not burdened
      const clean = await attackerClient(ctx)
      for (const t of new Set(pinned.map((m) => m.topic))) await publishOutcome(clean, t, '', { retain: true }, 3000)
    }
    const acked = outcomes.filter((o) => o === 'acked').length
    return {
      blocked: pinned.length === 0,
      observed: pinned.length === 0
        ? `${acked === 0 ? 'connection closed at the first retained publish' : `${acked} PUBACK(s)`}; a new subscriber got no retained message`
        : `${pinned.length} retained message(s) of 64 KiB stored and served to a new subscriber (cleared again)`,
    }
  },
}
