// Provisioning: a thief holding a car's operational key tries to keep the car
// locked out of its own recovery (issue 22). It rotates to a certificate for
// its own key (which retires the car's), then sends junk rotations to use up
// the VIN's request budget. The car's re-provisioning with its birth
// certificate must still be issued and cut the thief off. Needs the store the
// broker reads: the run starts its own provisioner on it (clean session, its
// own clientId); without a store the attack is SKIPPED.
import { randomUUID, type KeyObject } from 'node:crypto'
import type { MqttClient } from 'mqtt'
import { buildCsr, generateKey } from '../../src/index.js'
import { exchange } from '../provisioning.js'
import type { Attack } from './types.js'
import type { AttackContext } from './context.js'
import { attempt, describeOutcome } from './client.js'
import { Inconclusive, SkipAttack } from './not-judged.js'

const JUNK_ROTATIONS = 8
const JUNK_CSR = '-----BEGIN CERTIFICATE REQUEST-----\nAAAAAAAA\n-----END CERTIFICATE REQUEST-----\n'

function p256 (): { key: KeyObject; pem: string } {
  const key = generateKey()
  return { key, pem: key.export({ type: 'pkcs8', format: 'pem' }) as string }
}

async function connectWith (ctx: AttackContext, cert: string, key: string, vin: string): Promise<MqttClient> {
  const o = await attempt(ctx.scope, ctx.addr, { ...ctx.tls(null), cert, key }, { clientId: vin, reconnectPeriod: 0 })
  if (o.kind !== 'connected') throw new Inconclusive(`a certificate that should work was refused: ${describeOutcome(o)}`)
  return o.client
}

/** one provisioning exchange on a fresh connection of `cert` */
async function ask (ctx: AttackContext, cert: { cert: string; key: string }, vin: string, channel: 'provision' | 'rotate', csr: string, nonce?: string) {
  const c = await connectWith(ctx, cert.cert, cert.key, vin)
  try {
    return await exchange(c, channel, vin, csr, { nonce, timeoutMs: ctx.resultWaitMs * 2 })
  } finally {
    await c.endAsync(true).catch(() => {})
  }
}

export const recoveryLockout: Attack = {
  id: 'recovery-lockout',
  title: 'Recovery lockout with a stolen operational key',
  family: 'provisioning',
  decider: 'broker',
  expects: 'revoked',
  means: 'A thief with a car\'s operational key rotates to its own key (retiring the car\'s) and sends junk rotations to use up the car\'s requests. ' +
    'The car\'s re-provisioning with its birth certificate must still be issued and revoke the thief\'s certificate.',
  timeoutMs: () => 45_000,
  async run (ctx) {
    if (!ctx.startProvisioner || !ctx.freshBirth) throw new SkipAttack('no store given (--redis <url> or --data-dir <dir>, the store the broker reads): no provisioner to run')
    await ctx.startProvisioner()
    const birth = await ctx.freshBirth()
    const vin = birth.vin
    // the car provisions and is online
    const carKey = p256()
    const r1 = await ask(ctx, birth, vin, 'provision', buildCsr(carKey.key, [['CN', vin]]))
    if (r1.status !== 'issued') throw new Inconclusive(`the car's first provisioning was refused: ${r1.reason}`)
    const car = { cert: r1.certificate + r1.chain, key: carKey.pem }
    await (await connectWith(ctx, car.cert, car.key, vin)).endAsync(true)
    // the thief rotates with the stolen key, connects with its own certificate (the car's is retired), sends junk
    const thiefKey = p256()
    const r2 = await ask(ctx, car, vin, 'rotate', buildCsr(thiefKey.key, [['CN', vin]]))
    if (r2.status !== 'issued') throw new Inconclusive(`the thief's rotation was refused: ${r2.reason}`)
    const thief = { cert: r2.certificate + r2.chain, key: thiefKey.pem }
    const live = await connectWith(ctx, thief.cert, thief.key, vin)
    const junk: string[] = []
    for (let i = 0; i < JUNK_ROTATIONS; i++) {
      const r = await exchange(live, 'rotate', vin, JUNK_CSR, { timeoutMs: ctx.resultWaitMs * 2 })
      junk.push(r.status === 'rejected' ? r.reason : r.status)
    }
    await live.endAsync(true).catch(() => {})
    // the car comes back with its birth certificate
    const carKey2 = p256()
    const r3 = await ask(ctx, birth, vin, 'provision', buildCsr(carKey2.key, [['CN', vin]]), randomUUID())
    const junkText = `${JUNK_ROTATIONS} junk rotations answered ${[...new Set(junk)].join('/')}`
    if (r3.status !== 'issued') return { blocked: false, observed: `thief rotated once, ${junkText}; the car's re-provisioning was refused: ${r3.reason}` }
    // the thief's certificate is revoked; the car is online with its new one
    const again = await attempt(ctx.scope, ctx.addr, { ...ctx.tls(null), cert: thief.cert, key: thief.key }, { clientId: vin, reconnectPeriod: 0 })
    const thiefOut = again.kind !== 'connected'
    const back = await attempt(ctx.scope, ctx.addr, { ...ctx.tls(null), cert: r3.certificate + r3.chain, key: carKey2.pem }, { clientId: vin, reconnectPeriod: 0 })
    const observed = `thief rotated once, ${junkText}; the car re-provisioned (issued), the thief's certificate then got ${describeOutcome(again)}, ` +
      `the car's new one ${describeOutcome(back)}`
    return { blocked: thiefOut && back.kind === 'connected', observed }
  },
}
