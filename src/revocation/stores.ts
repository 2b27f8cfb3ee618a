// The factory maps of the revocation store and the device registry (chosen by
// src/stores/open.ts). Embedded: both on the store file under --data-dir, one
// StoreFile when opened together. Redis: both on the revocation schema's keys,
// one command link when opened together. A new implementation is a file beside
// these plus one line in its map.
import { DEFAULT_PREFIX, minReplicasOf, openStore, storeContext, type DeviceRegistry, type RevocationStore, type StoreChoice, type StoreContext, type StoreFactories } from '../stores/index.js'
import type { AuditLogger } from '../audit/index.js'
import { fgError } from '../contract/errors.js'
import { StoreFile } from './store-file.js'
import { FileRevocationStore } from './file-store.js'
import { FileDeviceRegistry } from './registry-file.js'
import { RedisStoreLink } from './redis-link.js'
import { RedisRevocationStore } from './redis-store.js'
import { RedisDeviceRegistry } from './registry-redis.js'

/** the store file under choice.dataDir, one per context */
function storeFile (choice: StoreChoice, ctx: StoreContext): Promise<StoreFile> {
  return ctx.share(`file:${choice.dataDir}`, () => StoreFile.open({ dataDir: choice.dataDir, log: ctx.log }))
}

/** the command link to the revocation schema, one per context */
function redisLink (choice: StoreChoice, ctx: StoreContext): Promise<RedisStoreLink> {
  if (!choice.redis) throw fgError('FG_ERR_CONFIG_MISSING', 'the redis store needs --redis <url> (REDIS_URL)')
  const prefix = choice.redisPrefix ?? DEFAULT_PREFIX
  const url = choice.redis
  return ctx.share(`redis:${url}:${prefix}`, () => RedisStoreLink.open({
    url, prefix, timeoutMs: choice.revocationTimeout ?? 1000, log: ctx.log,
    minReplicas: minReplicasOf(choice), replicaTimeoutMs: choice.redisReplicaTimeout ?? 2000,
  }))
}

export const REVOCATION_STORES: StoreFactories<RevocationStore> = {
  embedded: async (choice, ctx) => new FileRevocationStore(await storeFile(choice, ctx)),
  redis: async (choice, ctx) => new RedisRevocationStore(await redisLink(choice, ctx)),
}

export const REGISTRY_STORES: StoreFactories<DeviceRegistry> = {
  embedded: async (choice, ctx) => new FileDeviceRegistry(await storeFile(choice, ctx)),
  redis: async (choice, ctx) => new RedisDeviceRegistry(await redisLink(choice, ctx)),
}

/** The revocation store the broker reads with this choice (Redis with --redis, else the file under --data-dir). */
export async function openRevocationStore (choice: StoreChoice, log?: AuditLogger): Promise<RevocationStore> {
  return await openStore('revocation', REVOCATION_STORES, choice, storeContext(log))
}
