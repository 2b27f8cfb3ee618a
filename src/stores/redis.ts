// What every fleetgate Redis link shares (revocations, the device registry,
// clientId owners, the provisioner's state, TLS ticket secrets, the cluster's
// links): the ONE place an ioredis client is made (`redisClient`; a lint rule
// in eslint.config.js refuses `new Redis` anywhere else in src/), from the
// --redis value: a plain URL, or redis+sentinel:// (the master Sentinel names,
// followed across failovers). Also: one retry strategy, the commands of one
// event-loop turn written at once, a bounded connect that fails as
// FG_ERR_REDIS_UNAVAILABLE, the refusal of a Redis Cluster, WAIT for replicas,
// and URLs without their password in messages.
import { createRequire } from 'node:module'
import type { Duplex } from 'node:stream'
import { Redis, type RedisOptions } from 'ioredis'
import { fgError } from '../contract/errors.js'
import { parseRedisTarget, redactRedisUrl, type RedisTarget } from '../contract/redis-url.js'
import { bounded } from './bounded.js'

const require = createRequire(import.meta.url)

/** ioredis retryStrategy of every fleetgate Redis link: 50 ms more per attempt, at most 1 s */
export function redisRetryDelay (times: number): number { return Math.min(50 * times, 1000) }

/**
 * Which ioredis a link is made with: fleetgate's own, or the copy a library
 * bundles and relies on (aedes-persistence-redis and mqemitter-redis use
 * ioredis 5's API: src/cluster says why).
 */
export type RedisFlavour = 'fleetgate' | 'aedes-persistence-redis' | 'mqemitter-redis'

type RedisConstructor = new (...args: [string, RedisOptions] | [RedisOptions]) => Redis

function constructorOf (flavour: RedisFlavour): RedisConstructor {
  if (flavour === 'fleetgate') return Redis as unknown as RedisConstructor
  // ioredis as that package resolves it (its own nested copy)
  const lib = createRequire(require.resolve(flavour))('ioredis') as { Redis?: RedisConstructor; default?: RedisConstructor }
  return (lib.Redis ?? lib.default ?? lib) as RedisConstructor
}

/** The ioredis options that find the master through the Sentinels (redis+sentinel://). */
function sentinelOptions (target: Extract<RedisTarget, { kind: 'sentinel' }>): RedisOptions {
  return {
    sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: target.name,
    // only ever the master: a link that lands on a replica (a stale answer during a
    // failover) is dropped by ioredis' role check and asks the Sentinels again
    role: 'master',
    sentinelRetryStrategy: redisRetryDelay,
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.db !== undefined ? { db: target.db } : {}),
    ...(target.sentinelUsername !== undefined ? { sentinelUsername: target.sentinelUsername } : {}),
    ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
  }
}

/**
 * THE ioredis client factory of fleetgate: a client for the --redis value
 * `redis` (plain URL or redis+sentinel://) with the shared retry strategy, then
 * `options`. Every Redis link fleetgate opens is made here.
 */
export function redisClient (redis: string, options: RedisOptions = {}, flavour: RedisFlavour = 'fleetgate'): Redis {
  const Ctor = constructorOf(flavour)
  const target = parseRedisTarget(redis)
  // a plain URL as ioredis reads it (host, port, user, password, db, rediss:// TLS)
  const client = target.kind === 'server'
    ? new Ctor(target.url, { retryStrategy: redisRetryDelay, ...options })
    : new Ctor({ retryStrategy: redisRetryDelay, ...sentinelOptions(target), ...options })
  coalesceWrites(client)
  return client
}

const COALESCED = new WeakSet<object>()

/**
 * ioredis writes each command to its socket at once: one write() system call
 * per command, and on loopback each such call also runs the receiving side
 * (Redis woken once per command). In a provisioning storm on Redis those
 * writes were the largest single item of the broker's profile (about 2 ms per
 * car, ~27 writes) and of the provisioner's (7 per car). Here the commands a
 * link is given in one callback and the promise continuations it starts (the
 * lookups of a connect, the registry read beside them, a lookup and a script
 * of another connection decided in the same callback) leave in one writev: the
 * socket is corked at the first write and uncorked on process.nextTick, once
 * they have run. Order, replies, timeouts and errors are ioredis' as before; no
 * command waits for I/O or timers. (Uncorking on setImmediate batched more,
 * ~0.3 ms less Redis CPU per storm car, but each command then waited for the
 * rest of the loop's I/O: ~30% longer request -> certificate in the storm.
 * ioredis' own enableAutoPipelining builds a Pipeline per turn and runs one at
 * a time per link: measured dearer, src/cluster/index.ts.) Each new socket of a
 * link (a reconnect) is coalesced on its `connect`.
 */
function coalesceWrites (client: Redis): void {
  client.on('connect', () => {
    const stream = (client as unknown as { stream?: Duplex }).stream
    if (stream === undefined || COALESCED.has(stream)) return
    COALESCED.add(stream)
    const write = stream.write
    let corked = false
    const flush = (): void => { corked = false; stream.uncork() }
    stream.write = function coalescedWrite (this: Duplex, ...args: Parameters<Duplex['write']>): boolean {
      if (!corked) { corked = true; stream.cork(); process.nextTick(flush) }
      return write.apply(this, args)
    } as Duplex['write']
  })
}

/** true when the --redis value names Sentinels (redis+sentinel://) */
export function isSentinel (redis: string): boolean {
  return parseRedisTarget(redis).kind === 'sentinel'
}

/**
 * Open a fleetgate Redis link: lazyConnect and the shared retry strategy, then
 * `options`. `setup` runs before the connect (listeners, scripts). The connect
 * is bounded by `boundMs` when given; a failure drops the link and is
 * FG_ERR_REDIS_UNAVAILABLE `<label>: <why>`. A server in cluster mode is
 * FG_ERR_REDIS_CLUSTER.
 */
export async function openRedisLink (url: string, options: RedisOptions, label: string, setup: (redis: Redis) => void, boundMs?: number): Promise<Redis> {
  const redis = redisClient(url, { lazyConnect: true, ...options })
  setup(redis)
  try {
    await (boundMs === undefined ? redis.connect() : bounded(redis.connect(), boundMs, 'redis connect'))
  } catch (err) {
    redis.disconnect()
    throw fgError('FG_ERR_REDIS_UNAVAILABLE', `${label}: ${(err as Error).message}`, err)
  }
  try {
    await refuseCluster(redis, url)
  } catch (err) {
    redis.disconnect()
    throw err
  }
  return redis
}

/**
 * A Redis Cluster is refused: mqemitter-redis' PUBLISH is routed by the
 * channel's slot there, so one node's messages reach the others out of order
 * and Aedes' duplicate filter drops some (README "Cluster": what a fleet larger
 * than one primary would need).
 */
export async function refuseCluster (redis: Redis, url: string): Promise<void> {
  let info: string
  try {
    info = await bounded(redis.info('cluster'), 5000, 'redis info')
  } catch (err) {
    // an ACL user without INFO (or a proxy without it) cannot tell: not refused for that
    if (/NOPERM|unknown command/i.test((err as Error).message)) return
    throw fgError('FG_ERR_REDIS_UNAVAILABLE', `--redis ${redactUrl(url)}: INFO cluster: ${(err as Error).message}`, err)
  }
  if (/^cluster_enabled:1\s*$/m.test(info)) {
    throw fgError('FG_ERR_REDIS_CLUSTER', `--redis ${redactUrl(url)} is a Redis Cluster node (cluster_enabled:1): not supported, pub/sub between nodes loses messages there; use one primary with replicas and Sentinel (redis+sentinel://)`)
  }
}

/** How many replicas must confirm a certificate state change: the flag, else 1 with Sentinel and 0 with a plain URL. */
export function minReplicasOf (choice: { readonly redis?: string; readonly redisMinReplicas?: number }): number {
  if (choice.redisMinReplicas !== undefined) return choice.redisMinReplicas
  return choice.redis !== undefined && isSentinel(choice.redis) ? 1 : 0
}

/**
 * WAIT until `replicas` replicas have every write this link made so far, at most
 * `timeoutMs`; fewer is FG_ERR_REDIS_NOT_REPLICATED naming `what`. The write
 * itself stands on the master either way (it is not undone).
 */
export async function waitForReplicas (redis: Redis, replicas: number, timeoutMs: number, what: string): Promise<number> {
  if (replicas <= 0) return 0
  let acked: number
  try {
    acked = Number(await bounded(redis.wait(replicas, timeoutMs), timeoutMs + 2000, 'redis wait'))
  } catch (err) {
    throw fgError('FG_ERR_REDIS_NOT_REPLICATED', `${what}: written, but whether a replica has it is unknown (${(err as Error).message}): it is NOT known to be replicated; check the store and retry`, err)
  }
  if (acked < replicas) {
    throw fgError('FG_ERR_REDIS_NOT_REPLICATED', `${what}: written to the master but confirmed by ${acked} of ${replicas} replica(s) within ${timeoutMs} ms: NOT replicated, a failover now could lose it; retry once a replica is back (or --redis-min-replicas 0)`)
  }
  return acked
}

/** the --redis value without its password, for messages */
export function redactUrl (url: string): string {
  if (url.startsWith('redis+sentinel://')) return redactRedisUrl(url)
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '<invalid url>'
  }
}
