// composeHooks: fleetgate's hooks first, then the user's; a deny stops the chain.
import type { AedesOptions, AedesPublishPacket, Client, PublishPacket, Subscription } from 'aedes'
import { fgError } from '../contract/errors.js'
import type { FleetgateHooks } from './hooks.js'

export type HookSet = Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward' | 'published'>
const HOOK_NAMES = ['preConnect', 'authenticate', 'authorizePublish', 'authorizeSubscribe', 'authorizeForward', 'published'] as const

function validate (layer: Record<string, unknown>, index: number): void {
  for (const [name, fn] of Object.entries(layer)) {
    if (!(HOOK_NAMES as readonly string[]).includes(name)) throw fgError('FG_ERR_HOOK_NOT_SUPPORTED', `hook layer ${index}: "${name}" is not an Aedes hook (expected one of ${HOOK_NAMES.join(', ')})`)
    if (fn !== undefined && typeof fn !== 'function') throw fgError('FG_ERR_HOOK_NOT_SUPPORTED', `hook layer ${index}: "${name}" must be a function`)
  }
}

/**
 * Compose hook layers in order. authenticate/preConnect/authorizePublish: each
 * must allow; authorizeSubscribe: a null subscription stops the chain, and a
 * layer may narrow it; authorizeForward: the packet passes down, null stops;
 * published: every layer runs.
 */
export function composeHooks (...layers: ReadonlyArray<HookSet | FleetgateHooks | undefined>): HookSet {
  const ls = layers.filter((l): l is HookSet => l !== undefined) as HookSet[]
  ls.forEach((l, i) => validate(l as Record<string, unknown>, i))
  const pick = <K extends keyof HookSet>(k: K) => ls.map((l) => l[k]).filter((f): f is NonNullable<HookSet[K]> => typeof f === 'function')

  const preConnects = pick('preConnect')
  const authenticates = pick('authenticate')
  const publishes = pick('authorizePublish')
  const subscribes = pick('authorizeSubscribe')
  const forwards = pick('authorizeForward')
  const publisheds = pick('published')

  const composed: HookSet = {
    preConnect: function composedPreConnect (client, packet, callback) {
      let i = 0
      const next = (err: Error | null, ok: boolean): void => {
        if (err || !ok) return callback(err, ok)
        const fn = preConnects[i++]
        if (!fn) return callback(null, true)
        fn(client, packet, next)
      }
      next(null, true)
    },
    authenticate: function composedAuthenticate (client, username, password, done) {
      let i = 0
      const next: Parameters<NonNullable<HookSet['authenticate']>>[3] = (err, ok) => {
        if (err || !ok) return done(err, ok)
        if (client.closed) return undefined
        const fn = authenticates[i++]
        if (!fn) return done(null, true)
        fn(client, username, password, next)
      }
      next(null, true)
    },
    authorizePublish: function composedAuthorizePublish (client: Client | null, packet: PublishPacket, callback) {
      let i = 0
      const next = (err?: Error | null): void => {
        if (err) return callback(err)
        const fn = publishes[i++]
        if (!fn) return callback(null)
        fn(client as Client, packet, next)
      }
      next(null)
    },
    authorizeSubscribe: function composedAuthorizeSubscribe (client, sub, callback) {
      let i = 0
      const next = (err: Error | null, s?: Subscription | null): void => {
        if (err || !s) return callback(err, s ?? null)
        const fn = subscribes[i++]
        if (!fn) return callback(null, s)
        fn(client, s, next)
      }
      next(null, sub)
    },
    authorizeForward: function composedAuthorizeForward (client, packet) {
      let p: AedesPublishPacket = packet
      for (const fn of forwards) {
        const next = fn(client, p)
        if (!next) return null
        p = next
      }
      return p
    },
    published: function composedPublished (packet, client, callback) {
      let i = 0
      const next = (err?: Error | null): void => {
        if (err) return callback(err)
        const fn = publisheds[i++]
        if (!fn) return callback(null)
        fn(packet, client, next)
      }
      next(null)
    },
  }
  // A hook only one layer provides goes to Aedes as is: no wrapper on the per-message path.
  // A hook no layer provides is left to Aedes' default.
  for (const name of HOOK_NAMES) {
    const fns = pick(name)
    if (fns.length === 1) (composed as Record<string, unknown>)[name] = fns[0]
    else if (fns.length === 0) delete (composed as Record<string, unknown>)[name]
  }
  return composed
}
