// Where each store comes from, chosen in one place. Every kind of state has a
// factory map (name -> factory) beside its implementations: revocations and the
// device registry in src/revocation/stores.ts, clientId owners and session
// backends in src/sessions/stores.ts, the provisioner's state in
// src/provisioning/stores.ts. `openStores` opens the kinds a process needs from
// one StoreChoice (--redis / --data-dir), using the caller's own object where
// one is given. Adding an implementation is one file beside the others plus one
// line in its kind's map (docs/ARCHITECTURE.md).
import type { AuditLogger } from '../audit/index.js'
import { fgError } from '../contract/errors.js'

/** the key prefix in Redis when --redis-prefix is not given */
export const DEFAULT_PREFIX = 'fleetgate:'

export interface StoreChoice {
  /** the implementation, a key of each kind's factory map; default `redis` when `redis` is given, else `embedded` */
  readonly backend?: string
  /** Redis URL (--redis, REDIS_URL): redis://, rediss:// or redis+sentinel:// */
  readonly redis?: string
  /** replicas that must confirm a certificate state change (--redis-min-replicas); default: minReplicasOf */
  readonly redisMinReplicas?: number
  /** how long a state change waits for them (--redis-replica-timeout); default 2 s */
  readonly redisReplicaTimeout?: number
  /** key prefix in Redis (--redis-prefix); default fleetgate: */
  readonly redisPrefix?: string
  /** the embedded stores' directory (--data-dir) */
  readonly dataDir: string
  /** bound on each store call on the connect path (--revocation-timeout); default 1 s */
  readonly revocationTimeout?: number
}

export interface Closable { close (): Promise<void> }

export interface StoreContext {
  readonly log?: AuditLogger
  /**
   * What the stores opened together share, by key: `open` runs once per context
   * (the embedded revocation store and registry: one file; on Redis: one command
   * link). The shared object counts its users and closes with the last.
   */
  share<T> (key: string, open: () => Promise<T>): Promise<T>
}

export type StoreFactory<T> = (choice: StoreChoice, ctx: StoreContext) => Promise<T>
export type StoreFactories<T> = Readonly<Record<string, StoreFactory<T>>>
/** { kind: factory map } -> { kind: store } */
export type StoresOf<M> = { -readonly [K in keyof M]: M[K] extends StoreFactories<infer T> ? T : never }

/** The implementation a choice names: `backend`, else `redis` with a Redis URL, else `embedded`. */
export function backendOf (choice: StoreChoice): string {
  return choice.backend ?? (choice.redis ? 'redis' : 'embedded')
}

/** A context whose `share` shares within it only (one openStores call, or one caller's set of stores). */
export function storeContext (log?: AuditLogger): StoreContext {
  const shared = new Map<string, Promise<unknown>>()
  return {
    log,
    share<T> (key: string, open: () => Promise<T>): Promise<T> {
      let p = shared.get(key) as Promise<T> | undefined
      if (p === undefined) shared.set(key, (p = open()))
      return p
    },
  }
}

/** The factory `name` of a kind's map; an unknown name is FG_ERR_CONFIG_INVALID naming the known ones. */
export function factoryOf<F> (kind: string, factories: Readonly<Record<string, F>>, name: string): F {
  const factory = Object.hasOwn(factories, name) ? factories[name] : undefined
  if (factory === undefined) throw fgError('FG_ERR_CONFIG_INVALID', `no ${kind} store named ${JSON.stringify(name)} (known: ${Object.keys(factories).join(', ')})`)
  return factory
}

/** One store of one kind, from its factory map. */
export async function openStore<T> (kind: string, factories: StoreFactories<T>, choice: StoreChoice, ctx: StoreContext = storeContext()): Promise<T> {
  return await factoryOf(kind, factories, backendOf(choice))(choice, ctx)
}

export interface OpenStoresOptions<M> {
  readonly log?: AuditLogger
  /** the caller's own objects, used as they are instead of opening one (closed by whoever closes the set) */
  readonly given?: { readonly [K in keyof M]?: StoresOf<M>[K] | undefined }
  /** a kind whose implementation is not the choice's (clientId owners follow where the sessions are) */
  readonly backends?: { readonly [K in keyof M]?: string | undefined }
}

/**
 * Open every kind of `maps` from one choice, in order, sharing what they may
 * (StoreContext.share). When one fails, those opened before it are closed.
 */
export async function openStores<M extends Record<string, StoreFactories<Closable>>> (choice: StoreChoice, maps: M, opts: OpenStoresOptions<M> = {}): Promise<StoresOf<M>> {
  const ctx = storeContext(opts.log)
  const out: Record<string, Closable> = {}
  const opened: Closable[] = []
  try {
    for (const kind of Object.keys(maps)) {
      const given = opts.given?.[kind] as Closable | undefined
      if (given !== undefined) { out[kind] = given; continue }
      const backend = opts.backends?.[kind]
      const store = await openStore(kind, maps[kind]!, backend === undefined ? choice : { ...choice, backend }, ctx)
      opened.push(store)
      out[kind] = store
    }
  } catch (err) {
    await closeStores(opened.reverse()).catch(() => {}) // the first failure is the one to report
    throw err
  }
  return out as StoresOf<M>
}

/** close each, in order, each once even when another fails; the first failure is rethrown */
export async function closeStores (stores: Iterable<Closable | undefined>): Promise<void> {
  let first: unknown
  for (const s of stores) {
    try { await s?.close() } catch (err) { first ??= err }
  }
  if (first !== undefined) throw first
}
