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
/** KEYS[1] overflow set, KEYS[2..] session lists; ARGV[1] bound, ARGV[2..] clientIds. Returns [clientId, dropped, first]... */
const TRIM = RELEASE + `
local max = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local n = redis.call('LLEN', KEYS[i])
  if n > max then
    for j = 1, n - max do
      local k = redis.call('LPOP', KEYS[i])
      if k then release(k) end
    end
    out[#out + 1] = ARGV[i]
    out[#out + 1] = n - max
    out[#out + 1] = redis.call('SADD', KEYS[1], ARGV[i])
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
  fgTrim (numKeys: number, ...args: Array<string | number>): Promise<Array<string | number>>
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
  const msgpack = createRequire(require.resolve('aedes-persistence-redis'))('msgpack-lite') as { decode (b: Buffer): StoredPacket }
  const db = opts.conn as SessionRedis
  db.defineCommand('fgTrim', { lua: TRIM })
  db.defineCommand('fgClear', { numberOfKeys: 1, lua: CLEAR })
  db.defineCommand('fgDrop', { numberOfKeys: 1, lua: DROP })
  db.defineCommand('fgClaim', { numberOfKeys: 1, lua: CLAIM })
  const clockKey = `${opts.prefix}sessions:seen`
  const overflowKey = `${opts.prefix}sessions:overflow`
  const p = opts.persistence as RedisPersistence

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
  })

  // packet identifier -> queue entry, per connection (the library's own map is an
  // LRU shared by every client of the node, and private)
  const sent = new WeakMap<object, Map<number, string>>()

  const enqueueCombi = p.outgoingEnqueueCombi.bind(p)
  p.outgoingEnqueueCombi = async function boundedEnqueue (subs, packet) {
    await enqueueCombi(subs, packet)
    if (!subs || subs.length === 0 || deps.maxOfflineMessages <= 0) return
    const ids = subs.map((s) => s.clientId)
    const over = await db.fgTrim(1 + ids.length, overflowKey, ...ids.map(outgoingKey), deps.maxOfflineMessages, ...ids)
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
    if (left.length === 0) while (await db.fgDrop(outgoingKey(client.id), 1000) > 0) { /* next batch */ }
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
      const list = outgoingKey(clientId)
      while (await db.fgDrop(list, 1000) > 0) { /* next batch */ }
      await p.cleanSubscriptions({ id: clientId })
      await p.cleanIncoming({ id: clientId })
      await db.srem(overflowKey, clientId)
    },
    async queueLength (clientId) { return await db.llen(outgoingKey(clientId)) },
    async close () {},
  }
}
