// The embedded session store: aedes-persistence 11's memory store with fleetgate's
// outgoing queues (memory-queues.ts), paged backlog delivery and a session clock
// kept in this process (the embedded store does not outlive it).
import { createRequire } from 'node:module'
import { BacklogDelivery, type DeliveringClient, type StoredPacket } from './backlog.js'
import { MemoryQueues } from './memory-queues.js'
import type { SessionBackend, SessionClock, StoreDeps } from './types.js'

const require = createRequire(import.meta.url)
type MemoryPersistenceCtor = new () => Record<string, unknown> & {
  addSubscriptions (client: { id: string }, subs: unknown[]): Promise<unknown>
  cleanSubscriptions (client: { id: string }): Promise<unknown>
  cleanIncoming (client: { id: string }): Promise<unknown>
}

interface Sub { clientId: string }

export function memorySessionStore (deps: StoreDeps): SessionBackend {
  const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as MemoryPersistenceCtor
  const persistence = new MemoryPersistence()
  const queues = new MemoryQueues(deps.maxOfflineMessages)
  const backlog = new BacklogDelivery({ head: async (id, count) => queues.head(id, count), packets: async (id, keys) => queues.packets(id, keys), discard: (id) => { queues.drop(id) } })
  const overflowing = new Set<string>()
  const sessions = new Set<string>()
  const seen = new Map<string, number>()

  const enqueue = (subs: readonly Sub[], packet: StoredPacket) => {
    for (const sub of subs) {
      const dropped = queues.enqueue(sub.clientId, packet)
      if (dropped > 0) {
        const first = !overflowing.has(sub.clientId)
        overflowing.add(sub.clientId)
        deps.overflowed(sub.clientId, dropped, first)
      }
    }
  }
  // Instance properties over the class's methods (whose private queue stays empty).
  Object.assign(persistence, {
    async outgoingEnqueue (sub: Sub, packet: StoredPacket) { enqueue([sub], packet) },
    async outgoingEnqueueCombi (subs: Sub[] | undefined, packet: StoredPacket) { if (subs) enqueue(subs, packet) },
    async outgoingUpdate (client: { id: string }, packet: StoredPacket) {
      const key = queues.update(client.id, packet)
      if (key !== undefined && packet.cmd === 'pubrel') backlog.inFlight(client, key)
    },
    async outgoingClearMessageId (client: { id: string }, packet: { messageId?: number }) {
      const cleared = queues.clear(client.id, packet.messageId)
      if (!cleared) return undefined
      backlog.acked(client, [cleared.key])
      return cleared.packet
    },
    outgoingStream (client: DeliveringClient) { return backlog.stream(client) },
  })
  const addSubscriptions = persistence.addSubscriptions.bind(persistence)
  persistence.addSubscriptions = async (client, subs) => { sessions.add(client.id); return await addSubscriptions(client, subs) }
  const cleanSubscriptions = persistence.cleanSubscriptions.bind(persistence)
  persistence.cleanSubscriptions = async (client) => { sessions.delete(client.id); return await cleanSubscriptions(client) }

  const clock: SessionClock = {
    async touch (ids, now) { for (const id of ids) seen.set(id, now) },
    async discover (now) {
      for (const id of sessions) if (!seen.has(id)) seen.set(id, now)
      for (const id of queues.clientIds()) if (!seen.has(id)) seen.set(id, now)
    },
    async claimExpired (cutoff, limit) {
      const out: string[] = []
      for (const [id, at] of seen) {
        if (out.length >= limit) break
        if (at <= cutoff) { seen.delete(id); out.push(id) }
      }
      return out
    },
  }

  return {
    kind: 'memory',
    persistence,
    backlog,
    clock,
    async resumed (clientId) { overflowing.delete(clientId) },
    async expire (clientId) {
      queues.drop(clientId)
      overflowing.delete(clientId)
      await persistence.cleanSubscriptions({ id: clientId })
      await persistence.cleanIncoming({ id: clientId })
    },
    async queueLength (clientId) { return queues.length(clientId) },
    async close () {},
  }
}
