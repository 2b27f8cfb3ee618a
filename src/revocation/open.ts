// One store choice for serve and every CLI: Redis when --redis / REDIS_URL is
// given, else the embedded file store under --data-dir.
import type { AuditLogger } from '../audit/index.js'
import { FileRevocationStore } from './file-store.js'
import { RedisRevocationStore } from './redis-store.js'
import { DEFAULT_PREFIX } from './schema.js'
import type { RevocationStore } from './types.js'

export interface StoreChoice {
  readonly redis?: string
  readonly redisPrefix?: string
  readonly dataDir: string
  /** bound on each call at connect time; default 1 s */
  readonly revocationTimeout?: number
}

export async function openRevocationStore (choice: StoreChoice, log?: AuditLogger): Promise<RevocationStore> {
  if (choice.redis) {
    return await RedisRevocationStore.open({ url: choice.redis, prefix: choice.redisPrefix ?? DEFAULT_PREFIX, timeoutMs: choice.revocationTimeout ?? 1000, log })
  }
  return await FileRevocationStore.open({ dataDir: choice.dataDir, log })
}
