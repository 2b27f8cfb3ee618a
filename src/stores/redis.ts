// What every fleetgate Redis link shares (revocations, the device registry,
// clientId owners, the provisioner's state, the cluster's links): one retry
// strategy, a bounded connect that fails as FG_ERR_REDIS_UNAVAILABLE, and URLs
// without their password in messages.
import { Redis, type RedisOptions } from 'ioredis'
import { fgError } from '../contract/errors.js'
import { bounded } from './bounded.js'

/** ioredis retryStrategy of every fleetgate Redis link: 50 ms more per attempt, at most 1 s */
export function redisRetryDelay (times: number): number { return Math.min(50 * times, 1000) }

/**
 * Open a fleetgate Redis link: lazyConnect and the shared retry strategy, then
 * `options`. `setup` runs before the connect (listeners, scripts). The connect
 * is bounded by `boundMs` when given; a failure drops the link and is
 * FG_ERR_REDIS_UNAVAILABLE `<label>: <why>`.
 */
export async function openRedisLink (url: string, options: RedisOptions, label: string, setup: (redis: Redis) => void, boundMs?: number): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, retryStrategy: redisRetryDelay, ...options })
  setup(redis)
  try {
    await (boundMs === undefined ? redis.connect() : bounded(redis.connect(), boundMs, 'redis connect'))
  } catch (err) {
    redis.disconnect()
    throw fgError('FG_ERR_REDIS_UNAVAILABLE', `${label}: ${(err as Error).message}`, err)
  }
  return redis
}

/** the URL without its password, for messages */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return '<invalid url>'
  }
}
