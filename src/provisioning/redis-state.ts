// The provisioner's state in Redis, beside the revocation schema (same prefix;
// the names are revocation/schema.ts keysFor's nonces, claim, rateLimit and retire):
//   <prefix>nonces:<VIN>                 hash nonce -> issued response JSON, expires NONCE_TTL_MS after the last write
//   <prefix>claim:<VIN>:<nonce>          string: the provisioner handling that request now (SET NX, CLAIM_LEASE_MS)
//   <prefix>ratelimit:<channel>:<VIN>    counter of requests that passed the CSR checks, fixed window (INCR, PEXPIRE on the first);
//                                        channel `provision` (birth certificate) or `rotate` (operational certificate)
//   <prefix>retire                       sorted set "<VIN>|<fingerprint>" scored by the due time (ms)
// The replay lookup and the claim are one script: several provisioners on one
// Redis (each sees every request: Aedes 1.2 has no shared subscriptions) issue
// one certificate per request between them.
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { openRedisLink } from '../stores/redis.js'
import { keysFor, type Keys } from '../revocation/schema.js'
import type { Channel, IssuedResponse } from './messages.js'
import { CLAIM_LEASE_MS, NONCE_TTL_MS, type Claim, type CountedClaim, type ProvisionerState, type Retirement } from './state.js'

const CLAIM = `
local r = redis.call('HGET', KEYS[1], ARGV[1])
if r then return {1, r} end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {0, ''} end
return {2, ''}`

/** CLAIM, then (only when claimed here) COUNT: one round trip for a request that passed the CSR checks */
const CLAIM_COUNTED = `
local r = redis.call('HGET', KEYS[1], ARGV[1])
if r then return {1, r} end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {2, ''} end
local n = redis.call('INCR', KEYS[3])
if n == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
return {0, n}`

const COUNT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`

/** the answer, then the claim dropped (only ours: a claim taken over after our lease ran out is not ours to drop) */
const ANSWER = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return 1`

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

interface ScriptCommands {
  fgClaim (noncesKey: string, claimKey: string, nonce: string, owner: string, leaseMs: string): Promise<[number, string]>
  fgCount (rateKey: string, windowMs: string): Promise<number>
  fgClaimCounted (noncesKey: string, claimKey: string, rateKey: string, nonce: string, owner: string, leaseMs: string, windowMs: string): Promise<[number, string | number]>
  fgAnswer (noncesKey: string, claimKey: string, nonce: string, response: string, ttlMs: string, owner: string): Promise<number>
  fgRelease (claimKey: string, owner: string): Promise<number>
}

export class RedisProvisionerState implements ProvisionerState {
  readonly kind = 'redis' as const
  readonly #redis: Redis
  readonly #keys: Keys
  /** this provisioner's claim token */
  readonly #owner = randomUUID()

  private constructor (redis: Redis, prefix: string) {
    this.#redis = redis
    this.#keys = keysFor(prefix)
  }

  static async open (url: string, prefix: string, timeoutMs = 2000): Promise<RedisProvisionerState> {
    const redis = await openRedisLink(url, {
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 1,
      connectionName: 'fleetgate-provisioner',
    }, '--redis', (r) => {
      r.on('error', () => {}) // reconnects on its own; each command reports its own failure
      // EVALSHA: the scripts are not resent per request
      r.defineCommand('fgClaim', { numberOfKeys: 2, lua: CLAIM })
      r.defineCommand('fgCount', { numberOfKeys: 1, lua: COUNT })
      r.defineCommand('fgClaimCounted', { numberOfKeys: 3, lua: CLAIM_COUNTED })
      r.defineCommand('fgAnswer', { numberOfKeys: 2, lua: ANSWER })
      r.defineCommand('fgRelease', { numberOfKeys: 1, lua: RELEASE })
    })
    return new RedisProvisionerState(redis, prefix)
  }

  get #scripts (): ScriptCommands { return this.#redis as unknown as ScriptCommands }

  async claim (vin: string, nonce: string): Promise<Claim> {
    const [hit, value] = await this.#scripts.fgClaim(this.#keys.nonces(vin), this.#keys.claim(vin, nonce), nonce, this.#owner, String(CLAIM_LEASE_MS))
    if (hit === 1) return { kind: 'replay', response: JSON.parse(String(value)) as IssuedResponse }
    return hit === 0 ? { kind: 'claimed' } : { kind: 'busy' }
  }

  async claimCounted (vin: string, nonce: string, channel: Channel, windowMs: number): Promise<CountedClaim> {
    const [hit, value] = await this.#scripts.fgClaimCounted(this.#keys.nonces(vin), this.#keys.claim(vin, nonce), this.#keys.rateLimit(channel, vin),
      nonce, this.#owner, String(CLAIM_LEASE_MS), String(windowMs))
    if (hit === 1) return { kind: 'replay', response: JSON.parse(String(value)) as IssuedResponse }
    return hit === 0 ? { kind: 'claimed', count: Number(value) } : { kind: 'busy' }
  }

  async count (channel: Channel, vin: string, windowMs: number): Promise<number> {
    return Number(await this.#scripts.fgCount(this.#keys.rateLimit(channel, vin), String(windowMs)))
  }

  async remember (vin: string, nonce: string, response: IssuedResponse): Promise<void> {
    await this.#scripts.fgAnswer(this.#keys.nonces(vin), this.#keys.claim(vin, nonce), nonce, JSON.stringify(response), String(NONCE_TTL_MS), this.#owner)
  }

  async release (vin: string, nonce: string): Promise<void> {
    await this.#scripts.fgRelease(this.#keys.claim(vin, nonce), this.#owner)
  }

  async scheduleRetirement (items: readonly Retirement[], dueAt: number): Promise<void> {
    if (items.length === 0) return
    await this.#redis.zadd(this.#keys.retire, ...items.flatMap((r) => [dueAt, `${r.vin}|${r.fingerprint}`]))
  }

  async cancelRetirement (items: readonly Retirement[]): Promise<void> {
    if (items.length === 0) return
    await this.#redis.zrem(this.#keys.retire, ...items.map((r) => `${r.vin}|${r.fingerprint}`))
  }

  async dueRetirements (now: number): Promise<Retirement[]> {
    const members = await this.#redis.zrangebyscore(this.#keys.retire, '-inf', now, 'LIMIT', 0, 1000)
    return members.map((m) => { const [vin, fingerprint] = m.split('|') as [string, string]; return { vin, fingerprint } })
  }

  async close (): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect())
  }
}
