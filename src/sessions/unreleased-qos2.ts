// A bound on stored unreleased QoS 2 PUBLISHes per clientId (security review 6).
// Aedes 1.2 caps them per connection (maxInflightInbound), but a persistent
// session keeps them in its store, so each reconnect added another 1,000. The
// persistence's incomingStorePacket is wrapped: a new one past `max` for that
// clientId is refused (Aedes then closes the connection), whichever connection
// or node it comes from. Checked against aedes 1.2.0 (lib/handlers/publish.js:
// incomingGetPacket first, so a store is always a new messageId).
import type { Client } from 'aedes'

interface IncomingStore {
  incomingStorePacket (client: Client, packet: { messageId?: number }): Promise<unknown>
  incomingDelPacket (client: Client, packet: { messageId?: number }): Promise<unknown>
  cleanIncoming? (client: Client): Promise<unknown>
}

/** How many unreleased QoS 2 packets the store holds for a clientId (a shared store: exact across nodes). */
export type UnreleasedCount = (clientId: string) => Promise<number>

const BOUNDED = Symbol('fleetgate.unreleasedQos2Bound')

export function boundUnreleasedQos2 (persistence: object, max: number, onRefused: (client: Client, held: number) => void, count?: UnreleasedCount): void {
  const store = persistence as IncomingStore & { [BOUNDED]?: true }
  if (store[BOUNDED] || max <= 0) return
  store[BOUNDED] = true
  const storePacket = store.incomingStorePacket.bind(store)
  const refuse = (client: Client, held: number): never => {
    onRefused(client, held)
    throw new Error(`${held} unreleased QoS 2 messages stored for this clientId (limit ${max})`)
  }
  if (count !== undefined) {
    store.incomingStorePacket = async function boundedStore (client, packet) {
      const held = await count(client.id)
      if (held >= max) refuse(client, held)
      return await storePacket(client, packet)
    }
    return
  }
  // A store of this process only (Aedes' in-memory persistence): a mirror of its message ids per clientId.
  const held = new Map<string, Set<number>>()
  const delPacket = store.incomingDelPacket.bind(store)
  store.incomingStorePacket = async function boundedStore (client, packet) {
    let ids = held.get(client.id)
    if (ids !== undefined && ids.size >= max && !ids.has(packet.messageId!)) refuse(client, ids.size)
    const r = await storePacket(client, packet)
    if (ids === undefined) held.set(client.id, (ids = new Set()))
    ids.add(packet.messageId!)
    return r
  }
  store.incomingDelPacket = async function boundedDel (client, packet) {
    const r = await delPacket(client, packet)
    const ids = held.get(client.id)
    if (ids !== undefined && ids.delete(packet.messageId!) && ids.size === 0) held.delete(client.id)
    return r
  }
  if (typeof store.cleanIncoming === 'function') {
    const clean = store.cleanIncoming.bind(store)
    store.cleanIncoming = async function boundedClean (client) {
      const r = await clean(client)
      held.delete(client.id)
      return r
    }
  }
}
