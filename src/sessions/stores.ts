// The factory maps of the session side (chosen by src/stores/open.ts): who owns
// each clientId, and the session backend Aedes keeps persistent sessions in.
// Both follow where the sessions live: in memory beside Aedes' embedded
// persistence, or in Redis beside aedes-persistence-redis. A new implementation
// is a file beside these plus one line in its map.
import { fgError } from '../contract/errors.js'
import { DEFAULT_PREFIX, type ClientIdOwnerStore, type StoreFactories } from '../stores/index.js'
import { MemoryClientIdOwners } from './owners.js'
import { RedisClientIdOwners } from './redis-owners.js'
import { memorySessionStore } from './memory-store.js'
import { redisSessionStore } from './redis-store.js'
import type { SessionBackendOptions, SessionBackend } from './types.js'

export const OWNER_STORES: StoreFactories<ClientIdOwnerStore> = {
  embedded: async () => new MemoryClientIdOwners(),
  redis: async (choice, ctx) => {
    if (!choice.redis) throw fgError('FG_ERR_CONFIG_MISSING', 'the redis owner store needs --redis <url> (REDIS_URL)')
    // the connect path's budget (--revocation-timeout): a claim is made at every CONNECT
    return await RedisClientIdOwners.open({ url: choice.redis, prefix: choice.redisPrefix ?? DEFAULT_PREFIX, timeoutMs: choice.revocationTimeout ?? 1000, log: ctx.log })
  },
}

/** Session backends are made beside Aedes' persistence, which the caller built (cluster mode: src/cluster). */
export const SESSION_STORES: Readonly<Record<string, (opts: SessionBackendOptions) => SessionBackend>> = {
  embedded: (opts) => memorySessionStore(opts.deps),
  redis: (opts) => {
    if (!opts.redis) throw fgError('FG_ERR_CONFIG_MISSING', 'the redis session store needs aedes-persistence-redis and its connection (cluster mode)')
    return redisSessionStore({ conn: opts.redis.conn, persistence: opts.redis.persistence, prefix: opts.prefix }, opts.deps)
  },
}
