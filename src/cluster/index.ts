// Cluster mode (config.redis): MQTT sessions, retained messages and Wills in
// aedes-persistence-redis, pub/sub between broker nodes in mqemitter-redis, so
// several nodes behind a TCP load balancer act as one broker (DESIGN
// "Embedded default and production"). Revocation has its own connections
// (src/revocation), with their own timeouts.
import { createRequire } from 'node:module'
import { Redis } from 'ioredis'
import type { AuditLogger } from '../audit/index.js'
import { coalesceAddSubscriptions } from './coalesce.js'

const require = createRequire(import.meta.url)

interface Closable { close?: (cb: () => void) => void; destroy?: (cb?: () => void) => unknown }
type PersistenceFactory = (opts: { conn: Redis }) => Closable
type MqFactory = (opts: { connectionString: string; retryStrategy: (times: number) => number }) => Closable & {
  state: NodeJS.EventEmitter
  subConn: Redis
  pubConn: Redis
}

export interface ClusterParts {
  /** pass as Aedes.createBroker({ persistence, mq }) */
  readonly persistence: unknown
  readonly mq: unknown
  /** drop the Redis links without waiting (after broker.close, or when Redis is gone) */
  disconnect (): void
}

function retry (times: number): number { return Math.min(50 * times, 1000) }

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
  const RedisOfPersistence = createRequire(require.resolve('aedes-persistence-redis'))('ioredis') as typeof Redis
  const conn = new RedisOfPersistence(url, { retryStrategy: retry, connectionName: 'fleetgate-mqtt-persistence' })
  conn.on('error', onError('persistence'))
  const persistence = coalesceAddSubscriptions(createPersistence({ conn }))
  const mq = createMq({ connectionString: url, retryStrategy: retry })
  mq.state.on('error', onError('mq'))
  mq.subConn.on('error', onError('mq-sub'))
  mq.pubConn.on('error', onError('mq-pub'))
  return {
    persistence,
    mq,
    disconnect () {
      for (const c of [conn, mq.subConn, mq.pubConn]) c.disconnect()
    },
  }
}

