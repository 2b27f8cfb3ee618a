// The session backend port: what a session store (embedded or Redis) offers to
// the composition in session-store.ts. It stays beside the sessions code (its
// backlog delivery is theirs); its factory map is SESSION_STORES (stores.ts).
import type { Redis } from 'ioredis'
import type { BacklogDelivery, DeliveringClient } from './backlog.js'

export interface StoreDeps {
  /** entries per session queue; past it the oldest are dropped (0: unbounded) */
  readonly maxOfflineMessages: number
  /** `dropped` oldest entries of this session's queue were dropped; `first`: first time in this overflow episode */
  readonly overflowed: (clientId: string, dropped: number, first: boolean) => void
}

/** what a session backend factory is given */
export interface SessionBackendOptions {
  readonly deps: StoreDeps
  /** the Redis key prefix of fleetgate's own session keys (--redis-prefix) */
  readonly prefix: string
  /** cluster mode: aedes-persistence-redis and its own connection (src/cluster) */
  readonly redis?: { readonly conn: Redis; readonly persistence: object }
}

/** When each persistent session was last known live; shared by every node of a cluster. */
export interface SessionClock {
  /** these sessions are live now, or have just gone offline */
  touch (clientIds: readonly string[], now: number): Promise<void>
  /** sessions the store holds that the clock does not know yet start their clock now */
  discover (now: number): Promise<void>
  /** take (once across nodes) up to `limit` sessions last seen at or before `cutoff` */
  claimExpired (cutoff: number, limit: number): Promise<string[]>
}

export interface SessionBackend {
  /** 'memory', 'redis', or what a user's backend calls itself */
  readonly kind: string
  /** hand to Aedes.createBroker({ persistence }) */
  readonly persistence: object
  readonly backlog: BacklogDelivery
  readonly clock: SessionClock
  /** the session is live again: its overflow episode is over */
  resumed (clientId: string): Promise<void>
  /** remove the session: queue, subscriptions, QoS 2 inbound state */
  expire (clientId: string): Promise<void>
  /**
   * Live deliveries to this connected client may have been lost (the pub/sub
   * link between nodes was away): deliver from its queue what this connection
   * has not been sent. The number sent. Absent: nothing can be lost (embedded).
   */
  resync? (client: DeliveringClient): Promise<number>
  /** entries in the session's queue (tests, diagnostics) */
  queueLength (clientId: string): Promise<number>
  close (): Promise<void>
}
