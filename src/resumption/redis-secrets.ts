// Ticket secrets shared through Redis (--redis, no other flag): the first node to
// ask for an epoch's secret makes it (SET NX), every node reads the same one.
// Key: <prefix>tls:ticket-secret:<epoch>, 32 random bytes, expiring a few
// rotations later, so a copy of Redis taken later opens no old ticket.
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { bounded, openRedisLink, redactUrl, type TicketSecretStore } from '../stores/index.js'

export function ticketSecretKey (prefix: string, epoch: number): string {
  return `${prefix}tls:ticket-secret:${epoch}`
}

export class RedisTicketSecrets implements TicketSecretStore {
  readonly #redis: Redis
  readonly #prefix: string
  readonly #timeoutMs: number

  private constructor (redis: Redis, prefix: string, timeoutMs: number) {
    this.#redis = redis
    this.#prefix = prefix
    this.#timeoutMs = timeoutMs
  }

  static async open (opts: { url: string; prefix: string; timeoutMs: number }): Promise<RedisTicketSecrets> {
    // errors are the caller's to log (once per outage): a refresh that fails keeps the keys held
    const redis = await openRedisLink(opts.url, {
      enableOfflineQueue: false, commandTimeout: opts.timeoutMs, maxRetriesPerRequest: 0, connectionName: 'fleetgate-tls-tickets',
    }, `--redis ${redactUrl(opts.url)}`, (r) => { r.on('error', () => {}) }, Math.max(opts.timeoutMs, 5000))
    return new RedisTicketSecrets(redis, opts.prefix, opts.timeoutMs)
  }

  async secretFor (epoch: number, lifetimeMs: number): Promise<Buffer> {
    const key = ticketSecretKey(this.#prefix, epoch)
    const ask = async (): Promise<Buffer> => {
      await this.#redis.set(key, randomBytes(32), 'PX', Math.max(1000, Math.round(lifetimeMs)), 'NX')
      const secret = await this.#redis.getBuffer(key)
      if (!secret || secret.length < 32) throw new Error(`${key}: no secret`)
      return secret
    }
    return await bounded(ask(), this.#timeoutMs, 'ticket secret')
  }

  async close (): Promise<void> { this.#redis.disconnect() }
}
