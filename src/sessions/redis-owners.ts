// clientId ownership in Redis, beside aedes-persistence-redis' sessions:
//   <prefix>owner:<clientId>   JSON OwnerRecord; no expiry: deleted when a clean
//                              session ends, or when a persistent one expires.
// Claim and release are scripts: check-and-set in one atomic step, so two nodes
// admitting two identities at once cannot both win.
import type { Redis } from 'ioredis'
import { openRedisLink, redactUrl } from '../stores/redis.js'
import type { AuditLogger } from '../audit/index.js'
import type { ClaimResult, ClientIdOwnerStore, OwnerRecord } from '../stores/owners.js'

// claimOutcome (src/stores/owners.ts) in one atomic step. ARGV: name, record, cn, clientId.
// Returns {0, holder} refused, {1, ''} claimed, {2, replaced holder} claimed over a covering CN.
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then
  local ok, r = pcall(cjson.decode, v)
  if ok and type(r) == 'table' and r.name ~= ARGV[1] then
    if ARGV[3] ~= ARGV[4] or r.cn == ARGV[4] then return {0, v} end
    redis.call('SET', KEYS[1], ARGV[2])
    return {2, v}
  end
end
redis.call('SET', KEYS[1], ARGV[2])
return {1, ''}`

// ARGV: claimedBefore (ms). A record claimed since (the owner is back) stays.
const FORGET = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, r = pcall(cjson.decode, v)
if ok and type(r) == 'table' and tonumber(r.at) ~= nil and tonumber(r.at) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1`

const RELEASE = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, r = pcall(cjson.decode, v)
if not ok or type(r) ~= 'table' or r.token ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`

interface OwnerScripts {
  fgOwnerClaim (key: string, name: string, record: string, cn: string, clientId: string): Promise<[number, string]>
  fgOwnerRelease (key: string, token: string): Promise<number>
  fgOwnerForget (key: string, claimedBefore: string): Promise<number>
}

export interface RedisOwnersOptions {
  readonly url: string
  readonly prefix: string
  /** bound on every call (--revocation-timeout: the same connect-path budget) */
  readonly timeoutMs: number
  readonly log?: AuditLogger
}

export function ownerKey (prefix: string, clientId: string): string { return `${prefix}owner:${clientId}` }

/** A stored record; one that is not a record (written by hand, another version) still names no identity of ours. */
function parseRecord (text: string): OwnerRecord {
  try {
    const r = JSON.parse(text) as Partial<OwnerRecord>
    if (r !== null && typeof r === 'object' && typeof r.name === 'string') return { cn: '', fp: '', role: '', node: '', token: '', at: 0, ...r } as OwnerRecord
  } catch { /* below */ }
  return { name: '?', cn: '', fp: '', role: 'unknown', node: '', token: '', at: 0 }
}

export class RedisClientIdOwners implements ClientIdOwnerStore {
  readonly kind = 'redis'
  readonly #redis: Redis
  readonly #opts: RedisOwnersOptions

  private constructor (redis: Redis, opts: RedisOwnersOptions) { this.#redis = redis; this.#opts = opts }

  static async open (opts: RedisOwnersOptions): Promise<RedisClientIdOwners> {
    let lastError = 0
    const redis = await openRedisLink(opts.url, {
      // fail at once while disconnected: the caller refuses the CONNECT (fail closed)
      enableOfflineQueue: false,
      commandTimeout: opts.timeoutMs,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(opts.timeoutMs, 2000),
      connectionName: 'fleetgate-owners',
    }, `--redis ${redactUrl(opts.url)}, clientId owners`, (r) => {
      r.defineCommand('fgOwnerClaim', { numberOfKeys: 1, lua: CLAIM })
      r.defineCommand('fgOwnerRelease', { numberOfKeys: 1, lua: RELEASE })
      r.defineCommand('fgOwnerForget', { numberOfKeys: 1, lua: FORGET })
      r.on('error', (err: Error) => {
        const now = Date.now()
        if (now - lastError < 1000) return
        lastError = now
        opts.log?.warn({ evt: 'owners.store_error', err: err.message }, 'clientId owner store unreachable')
      })
    }, Math.max(opts.timeoutMs, 5000))
    return new RedisClientIdOwners(redis, opts)
  }

  get #scripts (): OwnerScripts { return this.#redis as unknown as OwnerScripts }

  async claim (clientId: string, record: OwnerRecord): Promise<ClaimResult> {
    const [kind, other] = await this.#scripts.fgOwnerClaim(ownerKey(this.#opts.prefix, clientId), record.name, JSON.stringify(record), record.cn, clientId)
    if (kind === 1) return { ok: true }
    const holder = parseRecord(other)
    return kind === 2 ? { ok: true, took: holder } : { ok: false, holder }
  }

  async release (clientId: string, token: string, persistent: boolean): Promise<void> {
    // a persistent session's record stays while the session is stored
    if (!persistent) await this.#scripts.fgOwnerRelease(ownerKey(this.#opts.prefix, clientId), token)
  }

  async forget (clientId: string, claimedBefore = Number.MAX_SAFE_INTEGER): Promise<void> {
    await this.#scripts.fgOwnerForget(ownerKey(this.#opts.prefix, clientId), String(claimedBefore))
  }

  async holder (clientId: string): Promise<OwnerRecord | null> {
    const v = await this.#redis.get(ownerKey(this.#opts.prefix, clientId))
    return v === null ? null : parseRecord(v)
  }

  async close (): Promise<void> { await this.#redis.quit().catch(() => this.#redis.disconnect()) }
}
