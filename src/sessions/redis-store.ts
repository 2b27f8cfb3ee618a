// The Redis session store: aedes-persistence-redis 12 with paged backlog
// delivery, a bounded queue per session and a session clock in Redis.
//
// The queue layout is aedes-persistence-redis 12's (persistence.js): the list
// `outgoing:<encoded clientId>` holds `packet:<brokerId>:<counter>` keys (or,
// after a QoS 2 PUBREC, `outgoing:<encoded clientId>:<brokerId>:<counter>`), and
// `packet:<brokerId>:<counter>:offlineCount` counts the lists that hold a packet.
// Every removal here goes through one Lua `release` that keeps that count right
// (the library's own outgoingClearMessageId decrements it even when the entry
// was no longer in the list, which would drop the packet from other sessions'
// queues once the bound has dropped an entry in flight).
import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'
import { subscriptionMethods } from '../aedes/adapter.js'
import { BacklogDelivery, type DeliveringClient, type StoredPacket } from './backlog.js'
import type { SessionBackend, SessionClock, StoreDeps } from './types.js'

const require = createRequire(import.meta.url)

export function outgoingKey (clientId: string): string { return `outgoing:${encodeURIComponent(clientId)}` }
function packetKey (packet: StoredPacket): string { return `packet:${String(packet.brokerId)}:${String(packet.brokerCounter)}` }
function pubrelKey (clientId: string, packet: StoredPacket): string { return `${outgoingKey(clientId)}:${String(packet.brokerId)}:${String(packet.brokerCounter)}` }

const RELEASE = `
local function release(k)
  local pkt = k
  if string.sub(k, 1, 9) == 'outgoing:' then
    redis.call('DEL', k)
    local b, c = string.match(k, ':([^:]+):([^:]+)$')
    if not b then return end
    pkt = 'packet:' .. b .. ':' .. c
  end
  local n = redis.call('DECR', pkt .. ':offlineCount')
  if n <= 0 then redis.call('DEL', pkt, pkt .. ':offlineCount') end
end
`
/**
 * The library's outgoingEnqueueCombi and the bound in one step (one round trip
 * instead of three awaited one after the other: MSET, RPUSH, the bound): the
 * packet and its offlineCount (MSET, as the library writes them: no TTL, not a
 * Redis Cluster, the persistence src/cluster makes), its key appended to each
 * session's list, then each list past the bound loses its oldest entries.
 * KEYS[1] packet, KEYS[2] its offlineCount, KEYS[3] overflow set, KEYS[4..] session
 * lists (one per subscription); ARGV[1] the encoded packet, ARGV[2] bound (0: none),
 * ARGV[3..] clientIds. Returns [clientId, dropped, first]...
 */
const ENQUEUE = RELEASE + `
redis.call('MSET', KEYS[1], ARGV[1], KEYS[2], #KEYS - 3)
for i = 4, #KEYS do redis.call('RPUSH', KEYS[i], KEYS[1]) end
local max = tonumber(ARGV[2])
local out = {}
if max <= 0 then return out end
for i = 4, #KEYS do
  local n = redis.call('LLEN', KEYS[i])
  if n > max then
    for j = 1, n - max do
      local k = redis.call('LPOP', KEYS[i])
      if k then release(k) end
    end
    out[#out + 1] = ARGV[i - 1]
    out[#out + 1] = n - max
    out[#out + 1] = redis.call('SADD', KEYS[3], ARGV[i - 1])
  end
end
return out
`
/** KEYS[1] session list; ARGV[1] entry key. Removes the entry if still queued; returns its packet. */
const CLEAR = RELEASE + `
local buf = redis.call('GET', ARGV[1])
-- count 1: from the head, where an acknowledged entry is, and no scan of the rest
if redis.call('LREM', KEYS[1], 1, ARGV[1]) > 0 then release(ARGV[1]) end
return buf
`
/** KEYS[1] session list; ARGV[1] batch. Releases and removes up to a batch of the oldest entries. */
const DROP = RELEASE + `
local ks = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, k in ipairs(ks) do release(k) end
if #ks > 0 then redis.call('LTRIM', KEYS[1], #ks, -1) end
return #ks
`
/** KEYS[1] clock; ARGV[1] cutoff, ARGV[2] limit. Claims expired sessions: only one caller gets each. */
const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do redis.call('ZREM', KEYS[1], id) end
return ids
`

interface SessionRedis extends Redis {
  fgEnqueue (numKeys: number, ...args: Array<string | number | Buffer>): Promise<Array<string | number>>
  fgClear (list: string, key: string): Promise<Buffer | null>
  fgClearBuffer (list: string, key: string): Promise<Buffer | null>
  fgDrop (list: string, batch: number): Promise<number>
  fgClaim (clock: string, cutoff: number, limit: number): Promise<string[]>
}

interface RedisPersistence {
  outgoingEnqueueCombi (subs: Array<{ clientId: string }> | undefined, packet: StoredPacket): Promise<void>
  outgoingEnqueue (sub: { clientId: string }, packet: StoredPacket): Promise<void>
  outgoingUpdate (client: { id: string }, packet: StoredPacket): Promise<void>
  outgoingClearMessageId (client: { id: string }, packet: { messageId?: number }): Promise<StoredPacket | undefined>
  outgoingStream (client: DeliveringClient): AsyncIterable<StoredPacket>
  cleanSubscriptions (client: { id: string }): Promise<void>
  cleanIncoming (client: { id: string }): Promise<void>
}

export interface RedisStoreOptions {
  /** the persistence's own connection (its ioredis), shared */
  readonly conn: Redis
  readonly persistence: object
  /** config.redisPrefix: fleetgate's own keys */
  readonly prefix: string
}

export function redisSessionStore (opts: RedisStoreOptions, deps: StoreDeps): SessionBackend {
  const libRequire = createRequire(require.resolve('aedes-persistence-redis'))
  const msgpack = libRequire('msgpack-lite') as { decode (b: Buffer): StoredPacket; encode (p: object): Buffer }
  // the packet as the library stores it (its outgoingEnqueueCombi: msgpack of an aedes-persistence Packet)
  const Packet = (libRequire('aedes-persistence') as { Packet: new (p: StoredPacket) => object }).Packet
  const db = opts.conn as SessionRedis
  db.defineCommand('fgEnqueue', { lua: ENQUEUE })
  db.defineCommand('fgClear', { numberOfKeys: 1, lua: CLEAR })
  db.defineCommand('fgDrop', { numberOfKeys: 1, lua: DROP })
  db.defineCommand('fgClaim', { numberOfKeys: 1, lua: CLAIM })
  const clockKey = `${opts.prefix}sessions:seen`
  const overflowKey = `${opts.prefix}sessions:overflow`
  const p = opts.persistence as RedisPersistence

  /** the whole list, its packets released, a batch per script call */
  const dropQueue = async (clientId: string): Promise<void> => {
    const list = outgoingKey(clientId)
    while (await db.fgDrop(list, 1000) > 0) { /* next batch */ }
  }

  const backlog = new BacklogDelivery({
    async head (clientId, count) {
      return await db.lrange(outgoingKey(clientId), 0, count - 1)
    },
    async packets (clientId, keys) {
      if (keys.length === 0) return []
      const bufs = await db.mgetBuffer(...keys)
      return keys.map((key, i) => {
        const buf = bufs[i]
        if (buf) return msgpack.decode(buf)
        // its packet is gone (expired with a TTL): the entry goes too, as the library does
        db.lrem(outgoingKey(clientId), 0, key).catch(() => {})
        return undefined
      })
    },
    // A clean CONNECT: the library's list went with the session's last subscription,
    // but an entry queued while that removal reached every node (or a list another
    // release left) would wait for the next persistent session of the clientId.
    // Not awaited; a failure leaves the list to the expiry sweep.
    discard (clientId) { dropQueue(clientId).catch(() => {}) },
  })

  // packet identifier -> queue entry, per connection (the library's own map is an
  // LRU shared by every client of the node, and private)
  const sent = new WeakMap<object, Map<number, string>>()

  p.outgoingEnqueueCombi = async function boundedEnqueue (subs, packet) {
    if (!subs || subs.length === 0) return
    const ids = subs.map((s) => s.clientId)
    const key = packetKey(packet)
    const over = await db.fgEnqueue(3 + ids.length, key, `${key}:offlineCount`, overflowKey, ...ids.map(outgoingKey),
      msgpack.encode(new Packet(packet)), Math.max(0, deps.maxOfflineMessages), ...ids)
    for (let i = 0; i < over.length; i += 3) deps.overflowed(String(over[i]), Number(over[i + 1]), Number(over[i + 2]) === 1)
  }
  p.outgoingEnqueue = async (sub, packet) => { await p.outgoingEnqueueCombi([sub], packet) }

  const update = p.outgoingUpdate.bind(p)
  p.outgoingUpdate = async function trackedUpdate (client, packet) {
    if (packet.messageId === undefined) return
    // A QoS 1 PUBLISH: the library would rewrite the shared packet with this
    // connection's identifier (one Redis write per message, and a packet released
    // meanwhile written back with no queue holding it); a QoS 1 PUBLISH is sent
    // again with a new identifier anyway (backlog.ts). QoS 2 keeps the library's way.
    if ((packet.cmd ?? 'publish') !== 'publish' || packet.qos !== 1) await update(client, packet) // fills in brokerId and brokerCounter of a PUBREL
    let ids = sent.get(client)
    if (!ids) { ids = new Map(); sent.set(client, ids) }
    const key = packet.cmd === 'pubrel' ? pubrelKey(client.id, packet) : packetKey(packet)
    ids.set(packet.messageId, key)
    if (packet.cmd === 'pubrel') backlog.inFlight(client, key)
  }

  p.outgoingClearMessageId = async function guardedClear (client, packet) {
    const ids = sent.get(client)
    const key = packet.messageId === undefined ? undefined : ids?.get(packet.messageId)
    if (key === undefined) return undefined
    ids!.delete(packet.messageId!)
    const buf = await db.fgClearBuffer(outgoingKey(client.id), key)
    backlog.acked(client, [key])
    if (!buf) return undefined
    const orig = msgpack.decode(buf)
    orig.messageId = packet.messageId
    return orig
  }

  p.outgoingStream = (client) => backlog.stream(client)

  // The library deletes a session's queue once its last subscription goes (a clean
  // session taking over a persistent one, the last UNSUBSCRIBE) without releasing
  // the packets it held: their `packet:*` keys were left in Redis for good.
  // The exported persistence hands each call to an inner async instance whose
  // cleanSubscriptions calls its own removeSubscriptions: the inner one is wrapped.
  const inner = subscriptionMethods(p)
  const removeSubscriptions = inner.removeSubscriptions.bind(inner)
  inner.removeSubscriptions = async function releasingRemove (client, topics) {
    const left = (await inner.subscriptionsByClient(client)).filter((s) => !topics.includes(s.topic))
    if (left.length === 0) await dropQueue(client.id)
    await removeSubscriptions(client, topics)
  }

  const clock: SessionClock = {
    async touch (ids, now) {
      for (let i = 0; i < ids.length; i += 500) {
        const args: Array<string | number> = []
        for (const id of ids.slice(i, i + 500)) args.push(now, id)
        await db.zadd(clockKey, ...args)
      }
    },
    async discover (now) {
      // sessions with subscriptions, and queues left without one (autoscaled backends' abandoned lists)
      const found = new Set<string>()
      let cursor = '0'
      do {
        const [next, ids] = await db.sscan('clients', cursor, 'COUNT', 1000)
        cursor = next
        for (const id of ids) found.add(id)
      } while (cursor !== '0')
      do {
        const [next, keys] = await db.scan(cursor, 'MATCH', 'outgoing:*', 'COUNT', 1000)
        cursor = next
        for (const k of keys) {
          const enc = k.slice('outgoing:'.length)
          if (enc.includes(':')) continue // a PUBREL record, not a queue
          try { found.add(decodeURIComponent(enc)) } catch { /* not written by the library */ }
        }
      } while (cursor !== '0')
      const ids = [...found]
      for (let i = 0; i < ids.length; i += 500) {
        const args: Array<string | number> = []
        for (const id of ids.slice(i, i + 500)) args.push(now, id)
        if (args.length > 0) await db.zadd(clockKey, 'NX', ...args)
      }
    },
    async claimExpired (cutoff, limit) {
      return await db.fgClaim(clockKey, cutoff, limit)
    },
  }

  return {
    kind: 'redis',
    persistence: p,
    backlog,
    clock,
    async resumed (clientId) { await db.srem(overflowKey, clientId) },
    // what this connection was sent and has not acknowledged is in `sent`: not sent again
    resync: async (client) => await backlog.resync(client, () => [...(sent.get(client)?.values() ?? [])]),
    async expire (clientId) {
      await dropQueue(clientId)
      await p.cleanSubscriptions({ id: clientId })
      await p.cleanIncoming({ id: clientId })
      await db.srem(overflowKey, clientId)
    },
    async queueLength (clientId) { return await db.llen(outgoingKey(clientId)) },
    async close () {},
  }
}
