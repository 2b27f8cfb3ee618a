// The provisioner's state in Redis, beside the revocation schema (same prefix;
// the names are revocation/schema.ts keysFor's nonces, rateLimit and retire):
//   <prefix>nonces:<VIN>      hash nonce -> issued response JSON, expires NONCE_TTL_MS after the last write
//   <prefix>ratelimit:<VIN>   counter, fixed window (INCR, PEXPIRE on the first)
//   <prefix>retire            sorted set "<VIN>|<fingerprint>" scored by the due time (ms)
// The replay lookup and the rate count are one script: one round trip.
import type { Redis } from 'ioredis'
import { keysFor, openRedisLink, type Keys } from '../revocation/index.js'
import type { IssuedResponse } from './messages.js'
import { NONCE_TTL_MS, type Admission, type ProvisionerState, type Retirement } from './state.js'

const ADMIT = `
local r = redis.call('HGET', KEYS[1], ARGV[1])
if r then return {1, r} end
local n = redis.call('INCR', KEYS[2])
if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return {0, n}`

interface ScriptCommands { fgAdmit (noncesKey: string, rateKey: string, nonce: string, windowMs: string): Promise<[number, string | number]> }

export class RedisProvisionerState implements ProvisionerState {
  readonly kind = 'redis' as const
  readonly #redis: Redis
  readonly #keys: Keys

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
      r.defineCommand('fgAdmit', { numberOfKeys: 2, lua: ADMIT }) // EVALSHA: the script is not resent per request
    })
    return new RedisProvisionerState(redis, prefix)
  }

  async admit (vin: string, nonce: string, windowMs: number): Promise<Admission> {
    const [hit, value] = await (this.#redis as unknown as ScriptCommands).fgAdmit(this.#keys.nonces(vin), this.#keys.rateLimit(vin), nonce, String(windowMs))
    if (hit === 1) return { replay: JSON.parse(String(value)) as IssuedResponse }
    return { count: Number(value) }
  }

  async remember (vin: string, nonce: string, response: IssuedResponse): Promise<void> {
    const key = this.#keys.nonces(vin)
    await this.#redis.multi().hset(key, nonce, JSON.stringify(response)).pexpire(key, NONCE_TTL_MS).exec()
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
