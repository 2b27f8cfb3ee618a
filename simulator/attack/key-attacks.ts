// Attacks on the car's key list (README "Signed commands": the car's key list,
// roles, pairing). Decided by the car from its own list, whatever route a
// command took: here every command travels over a backend connection, as a
// stolen login or a compromised broker could deliver it. The run paired an
// owner key with the victim car at its start (RunSettings.victimOwner); the
// attacks use it to set the scene and the car's signed result as the verdict.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateKey, signCommand, signJws, verifyResult, type UserSigningKey } from '../../src/index.js'
import type { AttackContext } from './context.js'
import { attackerPair } from './context.js'
import type { CommandOutcome } from '../backend.js'
import { phoneKeyOf, type PhoneKey } from '../phone.js'
import { readKeyRecord } from '../key-record.js'
import { vehicleTopics } from '../topics.js'
import { attempt, describeOutcome, publishOutcome } from './client.js'
import type { Attack, ExpectedReason, Observation } from './types.js'
import { Inconclusive } from './not-judged.js'

function observe (out: CommandOutcome, ctx: AttackContext, setup = ''): Observation {
  const pre = setup === '' ? '' : `${setup}; `
  switch (out.kind) {
    case 'result':
      return out.result.status === 'rejected'
        ? { blocked: true, observed: `${pre}car answered rejected (signed result verified, ${Math.round(out.rttMs)} ms)`, reasonSeen: out.result.reason }
        : { blocked: false, observed: `${pre}car answered executed (signed result verified)`, reasonSeen: 'executed' }
    case 'closed':
      return { blocked: true, observed: `${pre}the broker closed the sender's connection` }
    case 'timeout':
      throw new Inconclusive(`no signed result from ${ctx.victimVin} within ${ctx.resultWaitMs} ms: is the victim car online?`)
  }
}

async function send (ctx: AttackContext, key: UserSigningKey, cmd: string, args: Record<string, unknown> = {}): Promise<{ out: CommandOutcome; jws: string; jti: string }> {
  const { jws, payload } = await signCommand({ vin: ctx.victimVin, cmd, args, ttlMs: 30_000 }, key)
  return { out: await ctx.sendToVictim(jws, payload.jti), jws, jti: payload.jti }
}

/** A step of the scene that must succeed (an owner adding a key, say); otherwise the attack cannot be judged. */
async function must (ctx: AttackContext, what: string, key: UserSigningKey, cmd: string, args: Record<string, unknown> = {}): Promise<{ jws: string; jti: string }> {
  const r = await send(ctx, key, cmd, args)
  if (r.out.kind !== 'result' || r.out.result.status !== 'executed') {
    throw new Inconclusive(`${what} was not executed (${r.out.kind === 'result' ? `rejected: ${r.out.result.reason ?? ''}` : r.out.kind}), so the attack cannot be judged`)
  }
  return r
}

const newKey = async (): Promise<PhoneKey> => await phoneKeyOf(generateKey())

/** Remove a key the scene added, best effort (the list stays small across runs of the catalogue). */
async function tidy (ctx: AttackContext, kid: string): Promise<void> {
  try { await send(ctx, ctx.owner(), 'remove_key', { kid }) } catch { /* the verdict stands */ }
}

interface KeyAttackSpec {
  readonly id: string
  readonly title: string
  readonly expects: ExpectedReason
  readonly means: string
  readonly timeoutMs?: (ctx: AttackContext) => number
  /** default the car */
  readonly decider?: 'car' | 'broker'
  run (ctx: AttackContext): Promise<Observation>
}

function keyAttack (spec: KeyAttackSpec): Attack {
  return { ...spec, family: 'command', decider: spec.decider ?? 'car' }
}

export const removedKey = keyAttack({
  id: 'removed-key',
  title: 'Removed key',
  expects: 'unknown_key',
  means: 'A phone the owner paired, then removed (a lost or sold phone), sends unlock with its own key. The car must no longer know it.',
  async run (ctx) {
    const phone = await newKey()
    await must(ctx, 'the owner\'s add_key', ctx.owner(), 'add_key', { jwk: phone.jwk, role: 'driver', label: 'attack: removed phone' })
    await must(ctx, 'the phone\'s unlock while paired', phone, 'unlock')
    await must(ctx, 'the owner\'s remove_key', ctx.owner(), 'remove_key', { kid: phone.kid })
    return observe((await send(ctx, phone, 'unlock')).out, ctx, 'paired, unlocked, removed')
  },
})

export const driverAddsKey = keyAttack({
  id: 'driver-add-key',
  title: 'Driver enrols a key',
  expects: 'role_forbids',
  means: 'A driver key (a family member\'s phone) tries add_key to enrol another key as owner. Only an owner key may change the list.',
  async run (ctx) {
    const driver = await newKey()
    await must(ctx, 'the owner\'s add_key of the driver', ctx.owner(), 'add_key', { jwk: driver.jwk, role: 'driver', label: 'attack: driver' })
    try {
      const intruder = await newKey()
      return observe((await send(ctx, driver, 'add_key', { jwk: intruder.jwk, role: 'owner', label: 'attack: intruder' })).out, ctx, 'driver paired')
    } finally {
      await tidy(ctx, driver.kid)
    }
  },
})

export const serviceKeyExpired = keyAttack({
  id: 'service-key-expired',
  title: 'Service key past its window',
  expects: 'unknown_key',
  means: 'A garage\'s time-boxed service key, enrolled for a short window, asks for diagnostics after the window ended.',
  timeoutMs: (ctx) => 3 * ctx.resultWaitMs + 5000,
  async run (ctx) {
    const service = await newKey()
    const until = Date.now() + 1500
    await must(ctx, 'the owner\'s add_key of the service key', ctx.owner(), 'add_key', { jwk: service.jwk, role: 'service', label: 'attack: garage', until })
    const wait = until - Date.now() + 500
    if (wait > 0) await sleep(wait)
    return observe((await send(ctx, service, 'diagnostics')).out, ctx, 'service key enrolled for 1.5 s, used after it')
  },
})

export const backendBeyondRole = keyAttack({
  id: 'backend-beyond-role',
  title: 'Backend beyond its role',
  expects: 'role_forbids',
  means: 'The fleet backend (a stolen backend key, or the cloud itself) sends add_key to enrol its own key as the car\'s owner. The backend is one entry of the car\'s list, with the role the car\'s policy gives it (fleet-manager), not a master key.',
  async run (ctx) {
    const intruder = await newKey()
    const { jws, payload } = await signCommand({ vin: ctx.victimVin, cmd: 'add_key', args: { jwk: intruder.jwk, role: 'owner', label: 'attack: cloud owner' }, ttlMs: 30_000 }, ctx.backendCredentials().signing)
    return observe(await ctx.sendToVictim(jws, payload.jti), ctx)
  },
})

export const foreignCarKey = keyAttack({
  id: 'foreign-car-key',
  title: 'Another car\'s key',
  expects: 'unknown_key',
  means: 'An unlock signed by a key that is paired with another car (the attacker\'s own), its kid in the header. Keys are per car: the victim\'s list does not hold it.',
  async run (ctx) {
    const theirs = await newKey()
    return observe((await send(ctx, theirs, 'unlock')).out, ctx)
  },
})

export const addKeyReplay = keyAttack({
  id: 'add-key-replay',
  title: 'Replayed add_key',
  expects: 'replayed',
  means: 'The owner\'s genuine add_key, captured and sent again (after the key it added was removed, it would enrol the key again).',
  async run (ctx) {
    const phone = await newKey()
    const first = await must(ctx, 'the owner\'s add_key', ctx.owner(), 'add_key', { jwk: phone.jwk, role: 'driver', label: 'attack: replayed' })
    await must(ctx, 'the owner\'s remove_key', ctx.owner(), 'remove_key', { kid: phone.kid })
    return observe(await ctx.sendToVictim(first.jws, first.jti), ctx, 'add_key executed, its key removed')
  },
})

export const previousOwner = keyAttack({
  id: 'previous-owner-key',
  title: 'Previous owner after a sale',
  expects: 'unknown_key',
  means: 'The owner transfers the car to a new owner; the previous owner\'s phone then sends unlock. A transfer clears every key but the fleet backend\'s entry.',
  async run (ctx) {
    const previous = ctx.owner()
    const next = await newKey()
    await must(ctx, 'the transfer', previous, 'transfer', { jwk: next.jwk, label: 'catalogue owner (after transfer)' })
    ctx.setOwner(next)
    return observe((await send(ctx, previous, 'unlock')).out, ctx, 'transferred to a new owner')
  },
})

export const forgedKeyChange = keyAttack({
  id: 'forged-key-change',
  title: 'Forged key change',
  expects: 'topic_denied',
  decider: 'broker',
  means: 'A genuine car (the attacker\'s) forges the victim\'s word that it enrolled the attacker\'s key as owner: an executed add_key result on the victim\'s command-results topic, and a key list retained on its keys topic, both signed with the attacker\'s own car key. The broker refuses both topics; a fleet that reads them believes only the victim\'s own signature.',
  async run (ctx) {
    const intruder = await newKey()
    const attackerKey = ctx.signer(attackerPair(ctx))
    const topics = vehicleTopics(ctx.victimVin)
    const now = Date.now()
    const jti = randomUUID()
    const change = { op: 'add_key', kid: intruder.kid, role: 'owner', label: 'attack: forged', seq: 999_999 }
    const forgedResult = await signJws({ v: 1, vin: ctx.victimVin, jti, status: 'executed', ts: now, by: intruder.kid, change }, attackerKey)
    const forgedRecord = await signJws({ v: 1, vin: ctx.victimVin, seq: 999_999, ts: now, keys: [{ kid: intruder.kid, role: 'owner', label: 'attack: forged' }] }, attackerKey)
    // the fleet, listening for the victim's results as a backend does
    const b = await ctx.backend()
    await b.client.subscribeAsync(topics.results, { qos: 1 })
    const results: Buffer[] = []
    b.client.on('message', (t, payload) => {
      if (t !== topics.results || payload.length > 16 * 1024) return
      // the claimed payload, not yet believed: only to pick this attack's result out of the car's others
      const claimed = Buffer.from(payload.toString('latin1').split('.')[1] ?? '', 'base64url').toString('utf8')
      if (claimed.includes(jti)) results.push(payload)
    })
    const publishAs = async (topic: string, payload: string, retain: boolean) => {
      // each on its own connection: a refused publish closes the first
      const o = await attempt(ctx.scope, ctx.addr, ctx.tls(attackerPair(ctx)), { clientId: ctx.attackerVin })
      if (o.kind !== 'connected') throw new Inconclusive(`the attacker's own genuine car certificate was refused: ${describeOutcome(o)}`)
      return { client: o.client, ...await publishOutcome(o.client, topic, payload, { retain }, 5000) }
    }
    const r = await publishAs(topics.results, forgedResult, false)
    const k = await publishAs(topics.keys, forgedRecord, true)
    await sleep(ctx.windowMs)
    const seen = await readKeyRecord(ctx.url, ctx.backendCredentials(), ctx.victimVin, 2000)
    // a broker that took the record keeps it retained: clear it so later readers and runs are not poisoned
    if (k.outcome === 'acked') await publishOutcome(k.client, topics.keys, '', { retain: true }, 5000)
    const resultBelieved = (await Promise.all(results.map(async (p) =>
      (await verifyResult(p.toString('latin1'), { chains: ctx.backendCredentials().chains, vin: ctx.victimVin, jti, now: Date.now() })).ok))).some(Boolean)
    const recordBelieved = seen !== null && 'record' in seen && seen.record.keys.some((e) => e.kid === intruder.kid)
    const how = (x: { outcome: string; ms: number }) => x.outcome === 'closed' ? `connection closed after ${Math.round(x.ms)} ms` : x.outcome === 'acked' ? 'PUBACK' : 'no PUBACK, not closed'
    const resultView = results.length === 0 ? 'the fleet received no such result' : resultBelieved ? 'the fleet believes the forged result' : 'the fleet refuses the result (not signed by that car)'
    const recordView = seen === null ? 'the fleet has no record' : 'record' in seen ? (recordBelieved ? 'the fleet believes the forged list' : 'the fleet\'s record is the car\'s own') : `the fleet refuses the record it reads (${seen.problem})`
    return {
      blocked: !resultBelieved && !recordBelieved,
      observed: `result: ${how(r)}, ${resultView}; key list: ${how(k)}, ${recordView}`,
      ...(seen !== null && 'reason' in seen && seen.reason !== undefined && k.outcome !== 'closed' ? { reasonSeen: seen.reason } : {}),
    }
  },
})

/** In run order: the transfer last, it hands the car to a new owner key. */
export const KEY_ATTACKS: readonly Attack[] = [
  removedKey, driverAddsKey, serviceKeyExpired, backendBeyondRole, foreignCarKey, addKeyReplay, forgedKeyChange, previousOwner,
]
