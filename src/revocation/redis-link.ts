// The command link of the Redis revocation store and device registry: one
// connection to the revocation schema's keys (schema.ts), shared by the two
// ports when they are opened together, closed by the last of them. Every call
// is bounded; commands fail at once while disconnected (no offline queue), so
// the caller can fail closed instead of waiting.
import type { Redis } from 'ioredis'
import { fgError } from '../contract/errors.js'
import type { AuditLogger } from '../audit/index.js'
import { bounded, DEFAULT_PREFIX, openRedisLink, redactUrl, waitForReplicas } from '../stores/index.js'
import { keysFor, type Keys } from './schema.js'

export interface RedisStoreOptions {
  readonly url: string
  readonly prefix?: string
  /** bound on every call at connect time (--revocation-timeout) */
  readonly timeoutMs: number
  /** bound on bulk writes and listings (CLI) */
  readonly bulkTimeoutMs?: number
  readonly log?: AuditLogger
  /** replicas that must confirm a certificate state change (WAIT); 0: none */
  readonly minReplicas?: number
  /** how long a state change waits for them */
  readonly replicaTimeoutMs?: number
}

export class RedisStoreLink {
  readonly cmd: Redis
  readonly keys: Keys
  readonly opts: RedisStoreOptions
  /** bound on bulk writes and listings */
  readonly bulkMs: number
  #users = 0
  #closed = false
  #lastError = 0

  private constructor (cmd: Redis, opts: RedisStoreOptions) {
    this.cmd = cmd
    this.opts = opts
    this.keys = keysFor(opts.prefix ?? DEFAULT_PREFIX)
    this.bulkMs = Math.max(opts.bulkTimeoutMs ?? 30_000, opts.timeoutMs)
  }

  /** Connect (bounded); an unreachable server is the operator's FG_ERR_REDIS_UNAVAILABLE. */
  static async open (opts: RedisStoreOptions): Promise<RedisStoreLink> {
    let link: RedisStoreLink | undefined
    const replicaMs = (opts.minReplicas ?? 0) > 0 ? (opts.replicaTimeoutMs ?? 2000) + 1000 : 0
    await openRedisLink(opts.url, {
      enableOfflineQueue: false,
      // a WAIT for replicas outlasts a lookup's bound (every lookup has its own, bounded())
      commandTimeout: Math.max(opts.timeoutMs, replicaMs),
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(opts.timeoutMs, 2000),
      connectionName: 'fleetgate-revocation',
    }, `--redis ${redactUrl(opts.url)}`, (cmd) => {
      const l = new RedisStoreLink(cmd, opts)
      cmd.on('error', (err: Error) => l.onError('command', err))
      link = l
    }, Math.max(opts.timeoutMs, 5000))
    return link!
  }

  get closed (): boolean { return this.#closed }

  /**
   * A certificate state change this link wrote is durable only once
   * --redis-min-replicas replicas have it (WAIT on this link, which made the
   * write); else FG_ERR_REDIS_NOT_REPLICATED naming `what`. Nothing to wait for
   * with 0.
   */
  async replicated (what: string): Promise<void> {
    await waitForReplicas(this.cmd, this.opts.minReplicas ?? 0, this.opts.replicaTimeoutMs ?? 2000, what)
  }

  /** a port opened on this link (the last to release it closes it) */
  use (): this { this.#users++; return this }

  async release (): Promise<void> {
    if (--this.#users > 0 || this.#closed) return
    this.#closed = true
    await quitLink(this.cmd)
  }

  /** one warning per outage second, not one per retry */
  onError (which: string, err: Error): void {
    if (this.#closed) return
    const now = Date.now()
    if (now - this.#lastError < 1000) return
    this.#lastError = now
    this.opts.log?.warn({ evt: 'revocation.store_error', conn: which, err: err.message }, 'revocation store unreachable')
  }

  /**
   * A subscriber link on `channels` (autoResubscribe; `onReady` after each
   * connect). One that cannot connect or subscribe is dropped at once (no link
   * left retrying behind a failed start) and is FG_ERR_REDIS_UNAVAILABLE.
   */
  async subscribe (channels: readonly string[], connectionName: string, onMessage: (channel: string, message: string) => void, onReady: () => void): Promise<Redis> {
    const boundMs = Math.max(this.opts.timeoutMs, 5000)
    const label = `--redis ${redactUrl(this.opts.url)}, subscriber link`
    const sub = await openRedisLink(this.opts.url, { autoResubscribe: true, maxRetriesPerRequest: null, connectionName }, label, (sub) => {
      sub.on('error', (err: Error) => this.onError('subscriber', err))
      sub.on('message', onMessage)
      sub.on('ready', onReady)
    }, boundMs)
    try {
      await bounded(sub.subscribe(...channels), boundMs, 'redis subscribe')
    } catch (err) {
      sub.disconnect()
      throw fgError('FG_ERR_REDIS_UNAVAILABLE', `${label}: ${(err as Error).message}`, err)
    }
    return sub
  }
}

/** quit a link, bounded; a link that does not answer is dropped */
export async function quitLink (link: Redis | null): Promise<void> {
  if (!link) return
  try { await bounded(link.quit(), 1000, 'redis quit') } catch { link.disconnect() }
}

/**
 * One port's subscriber link on one channel (the revocation store's, the
 * registry's): started once by watch(), dropped by close() with the port's use
 * of the command link, even when close() comes while it is still connecting.
 */
export class ChannelWatch {
  #sub: Redis | null = null
  #closed = false
  #started = false

  constructor (readonly link: RedisStoreLink, readonly channel: string, readonly connectionName: string) {}

  get closed (): boolean { return this.#closed }

  /** the subscriber link, once started (null before, or after close) */
  get sub (): Redis | null { return this.#sub }

  async start (onMessage: (message: string) => void, onReady: () => void): Promise<void> {
    if (this.#started) throw new Error('watch() called twice')
    this.#started = true
    const sub = await this.link.subscribe([this.channel], this.connectionName, (channel, message) => {
      if (channel === this.channel) onMessage(message)
    }, onReady)
    // closed while connecting: close() did not see this link
    if (this.#closed) { sub.disconnect(); return }
    this.#sub = sub
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const sub = this.#sub
    this.#sub = null
    await Promise.all([quitLink(sub), this.link.release()])
  }
}
