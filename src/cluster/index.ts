// Cluster mode (config.redis): MQTT sessions, retained messages and Wills in
// aedes-persistence-redis, pub/sub between broker nodes in mqemitter-redis, so
// several nodes behind a TCP load balancer act as one broker (README
// "Cluster"). Revocation has its own connections
// (src/revocation), with their own timeouts.
import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'
import type { AuditLogger } from '../audit/index.js'
import { coalesceAddSubscriptions } from './coalesce.js'
import { keyWillsToThisNode } from './wills.js'
import { redisClient } from '../stores/redis.js'
import { MQ_OPTIONS } from './mq.js'
import { PubSubResync } from './resync.js'

const require = createRequire(import.meta.url)

interface Closable { close?: (cb: () => void) => void; destroy?: (cb?: () => void) => unknown }
type PersistenceFactory = (opts: { conn: Redis }) => Closable
interface MqPacket { topic: string }
type Emit = (packet: MqPacket, cb?: (err?: Error) => void) => unknown
type MqFactory = (opts: { subConn: Redis; pubConn: Redis; concurrency: number; matchEmptyLevels: boolean }) => Closable & {
  emit: Emit
  /** MQEmitter's own emit: this node's subscribers only */
  _emit: Emit
  state: NodeJS.EventEmitter
  subConn: Redis
  pubConn: Redis
}

export interface ClusterParts {
  /** pass as Aedes.createBroker({ persistence, mq }) */
  readonly persistence: unknown
  readonly mq: unknown
  /** the persistence's own Redis connection (src/sessions runs its queue scripts on it) */
  readonly persistenceConn: Redis
  /** drop the Redis links without waiting (after broker.close, or when Redis is gone) */
  disconnect (): void
  /** unreleased QoS 2 packets stored for a clientId: aedes-persistence-redis 12's `incoming:<clientId>` hash */
  countUnreleasedQos2 (clientId: string): Promise<number>
  /** every cluster link is connected to the master (false while a failover stalls them) */
  reachable (): boolean
  /**
   * `listener` runs each time the emitter's subscriber link is subscribed again
   * after a reconnect (a failover): messages published meanwhile never reached
   * this node by pub/sub (src/cluster/resync.ts)
   */
  onResubscribed (listener: () => void): void
}

/**
 * Aedes announces every connect, disconnect, SUBSCRIBE and UNSUBSCRIBE on
 * `$SYS/<broker id>/...`. Only `new/clients` is read by another node (it ends a
 * session taken over there); the other three have no reader in a fleetgate
 * cluster (no client may subscribe to a `$` topic), yet each cost a Redis
 * PUBLISH: 4 of a provisioning car's 9. They stay on this node.
 */
const NODE_LOCAL_SYS = /^\$SYS\/[^/]+\/(?:disconnect\/clients|new\/subscribes|new\/unsubscribes)$/

function keepNodeLocal (mq: { emit: Emit; _emit: Emit }): void {
  const clusterEmit = mq.emit.bind(mq)
  const localEmit = mq._emit.bind(mq)
  mq.emit = (packet, cb) => (NODE_LOCAL_SYS.test(packet.topic) ? localEmit(packet, cb) : clusterEmit(packet, cb))
}

export function clusterParts (url: string, log?: AuditLogger): ClusterParts {
  const createPersistence = require('aedes-persistence-redis') as PersistenceFactory
  const createMq = require('mqemitter-redis') as MqFactory
  let lastError = 0
  const onError = (which: string) => (err: Error) => {
    const now = Date.now()
    if (now - lastError < 1000) return
    lastError = now
    log?.warn({ evt: 'cluster.redis_error', conn: which, err: err.message }, 'cluster Redis link error')
  }
  // The persistence's own ioredis (5.x): it relies on that version's API (with ioredis 6
  // a clean=false subscriber never received its QoS 1 messages).
  // No auto-pipelining: ioredis builds a pipeline per event-loop tick and settles each
  // command through it, and the persistence's commands seldom share a tick. Measured
  // with it on: ~0.5 ms more broker CPU per CONNECT, ~1 ms more per car in a
  // provisioning storm (redis-server ~6% less); so it is off. (What it saved, one
  // write per command, redisClient does for every link: the commands of one turn
  // of the event loop leave in one write, src/stores/redis.ts.)
  // During a failover (no master) these links queue their commands and send them to
  // the master Sentinel names next (maxRetriesPerRequest null: a queued write is never
  // dropped after N reconnects, which would lose a message already PUBACKed). What
  // waits here is only what was in flight at the failover: the node holds new
  // PUBLISHes (no PUBACK) while these links are down (src/checks/store-stall.ts).
  const stall = { maxRetriesPerRequest: null }
  const conn = redisClient(url, { ...stall, connectionName: 'fleetgate-mqtt-persistence' }, 'aedes-persistence-redis')
  conn.on('error', onError('persistence'))
  const persistence = keyWillsToThisNode(coalesceAddSubscriptions(createPersistence({ conn })))
  // mqemitter-redis builds its own links from a connection string with none of
  // these options: give it ours. Not its enableAutoPipelining: redisClient already
  // sends the PUBLISHes of one turn in one write, and measured with that, a
  // Pipeline per turn cost 12-19 µs of client CPU per PUBLISH against 3-10 without.
  const subConn = redisClient(url, { ...stall, connectionName: 'fleetgate-mqtt-sub' }, 'mqemitter-redis')
  const pubConn = redisClient(url, { ...stall, connectionName: 'fleetgate-mqtt-pub' }, 'mqemitter-redis')
  const mq = createMq({
    subConn,
    pubConn,
    // the same emitter options as embedded mode (./mq.ts)
    ...MQ_OPTIONS,
  })
  keepNodeLocal(mq)
  mq.state.on('error', onError('mq'))
  mq.subConn.on('error', onError('mq-sub'))
  mq.pubConn.on('error', onError('mq-pub'))
  const resync = new PubSubResync(mq.subConn)
  return {
    persistence,
    mq,
    countUnreleasedQos2: async (clientId) => await conn.hlen(`incoming:${encodeURIComponent(clientId)}`),
    persistenceConn: conn,
    reachable: () => conn.status === 'ready' && mq.subConn.status === 'ready' && mq.pubConn.status === 'ready',
    onResubscribed: (listener) => resync.on(listener),
    disconnect () {
      resync.stop()
      for (const c of [conn, mq.subConn, mq.pubConn]) c.disconnect()
    },
  }
}

