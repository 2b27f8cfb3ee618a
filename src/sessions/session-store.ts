// Persistent MQTT sessions (clean session 0) as fleetgate composes them with
// Aedes: complete ordered delivery of the queue (backlog.ts), a bound per queue
// (--max-offline-messages, the oldest dropped) and expiry (--session-expiry),
// in the embedded store or in Redis.
import type { Aedes } from 'aedes'
import type { Redis } from 'ioredis'
import type { AuditLogger } from '../audit/index.js'
import { clientsOf, onClientMade, sessionClient, type SessionClient } from '../aedes/adapter.js'
import { factoryOf } from '../stores/open.js'
import { SessionExpiry } from './expiry.js'
import { SESSION_STORES } from './stores.js'
import type { SessionBackend, StoreDeps } from './types.js'

export { BacklogDelivery } from './backlog.js'
import type { DeliveringClient } from './backlog.js'
export { sweepPeriod } from './expiry.js'
export type { SessionBackend, SessionClock } from './types.js'

/** the decision metric (the broker's DecisionCounter): sessions sit below the broker and do not import it */
interface DecisionCounter { inc (evt: string, reason: string): void }

export type SessionExpiredListener = (clientId: string) => void | Promise<void>

export interface SessionStoreOptions {
  readonly maxOfflineMessages: number
  readonly sessionExpiry: number
  readonly redisPrefix: string
  readonly log: AuditLogger
  readonly decisions: DecisionCounter
  /** cluster mode: aedes-persistence-redis and its connection */
  readonly redis?: { readonly conn: Redis; readonly persistence: object }
  /**
   * The backend: a name in SESSION_STORES (default `redis` in cluster mode, else
   * `embedded`), or the caller's own object (its `persistence` goes to Aedes).
   */
  readonly backend?: string | SessionBackend
}

export interface SessionStore {
  /** hand to Aedes.createBroker({ persistence }) */
  readonly persistence: object
  readonly backend: SessionBackend
  /** on the running broker: live deliveries held behind the backlog, session clock, expiry sweeps */
  attach (broker: Aedes): void
  /** called once per expired session, on the node that removed it (e.g. to remove records kept beside it) */
  onExpired (listener: SessionExpiredListener): () => void
  /** one expiry sweep now (tests, diagnostics) */
  sweep (): Promise<void>
  /**
   * Live deliveries may have been lost (the pub/sub link between nodes was away:
   * a failover): every connected persistent session reads its queue again and is
   * sent what it was not. The number of messages sent.
   */
  resyncLive (why: string): Promise<number>
  close (): Promise<void>
}


function sessionBackend (name: string, opts: SessionStoreOptions, deps: StoreDeps): SessionBackend {
  return factoryOf('session', SESSION_STORES, name)({ deps, prefix: opts.redisPrefix, redis: opts.redis })
}

export function createSessionStore (opts: SessionStoreOptions): SessionStore {
  const { log, decisions } = opts
  const deps = {
    maxOfflineMessages: opts.maxOfflineMessages,
    overflowed (clientId: string, dropped: number, first: boolean) {
      for (let i = 0; i < dropped; i++) decisions.inc('session.drop', 'offline_queue_full')
      // once per session and overflow episode (until it connects again or expires)
      if (first) log.warn({ evt: 'session.drop', reason: 'offline_queue_full', clientId, max: opts.maxOfflineMessages, detail: 'offline queue full: the oldest queued messages are dropped' }, 'offline queue full')
    },
  }
  const backend = typeof opts.backend === 'object' ? opts.backend : sessionBackend(opts.backend ?? (opts.redis ? 'redis' : 'embedded'), opts, deps)
  const listeners = new Set<SessionExpiredListener>()
  let expiry: SessionExpiry | null = null
  let lastError = 0
  let attached: Aedes | null = null

  return {
    persistence: backend.persistence,
    backend,
    attach (broker: Aedes) {
      attached = broker
      onClientMade(broker, (client) => backend.backlog.holdLive(client))
      const clients = clientsOf(broker)
      expiry = new SessionExpiry({
        clock: backend.clock,
        expiryMs: opts.sessionExpiry,
        liveIds: () => Object.values(clients).filter((c) => !c.clean && !c.closed).map((c) => c.id),
        isLive: (id) => { const c = clients[id]; return c !== undefined && !c.closed },
        remove: (id) => backend.expire(id),
        expired (clientId) {
          decisions.inc('session.expire', 'session_expired')
          log.info({ evt: 'session.expire', reason: 'session_expired', clientId, expiry: opts.sessionExpiry }, 'persistent session expired')
          for (const l of listeners) {
            try { Promise.resolve(l(clientId)).catch((err: Error) => log.error({ evt: 'session.expire_error', clientId, err: err.message }, 'session expiry listener failed')) } catch (err) { log.error({ evt: 'session.expire_error', clientId, err: (err as Error).message }, 'session expiry listener failed') }
          }
        },
        failed (err) {
          const now = Date.now()
          if (now - lastError < 10_000) return
          lastError = now
          log.warn({ evt: 'session.sweep_error', err: err.message }, 'session expiry sweep failed')
        },
      })
      const ex = expiry
      const persistent = (c: SessionClient) => c.clean === false
      broker.on('client', (client) => {
        const c = sessionClient(client)
        if (!persistent(c)) return
        ex.seen(c.id)
        backend.resumed(c.id).catch(() => {})
      })
      broker.on('clientDisconnect', (client) => { const c = sessionClient(client); if (persistent(c)) ex.seen(c.id) })
      ex.start()
    },
    onExpired (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    async sweep () { await expiry?.sweep() },
    async resyncLive (why) {
      const resync = backend.resync?.bind(backend)
      if (!attached || !resync) return 0
      const live = Object.values(clientsOf(attached)).filter((c) => c.clean === false && !c.closed) as unknown as DeliveringClient[]
      const sent = await Promise.all(live.map((c) => resync(c).catch((err: Error) => {
        log.warn({ evt: 'session.resync_error', clientId: c.id, err: err.message }, 'session queue not read again')
        return 0
      })))
      const total = sent.reduce((a, b) => a + b, 0)
      log.info({ evt: 'session.resync', why, sessions: live.length, sent: total }, 'live persistent sessions read their queues again')
      return total
    },
    async close () {
      await expiry?.stop()
      await backend.close()
    },
  }
}
