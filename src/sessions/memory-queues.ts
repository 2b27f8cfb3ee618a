// The embedded store's outgoing queues (no --redis). aedes-persistence 11 keeps
// a client's queue as a private array: outgoingStream copies all of it at once,
// outgoingUpdate and outgoingClearMessageId scan it from the start, nothing
// bounds it and nothing can delete it (its session cannot expire). These queues
// replace that part of it; the rest of aedes-persistence (subscriptions,
// retained, Wills, QoS 2 inbound) is used as is.
import { createRequire } from 'node:module'
import type { StoredPacket } from './backlog.js'

const require = createRequire(import.meta.url)
type PacketCtor = new (original: object) => StoredPacket
const Packet = require('aedes-packet') as PacketCtor

interface Entry {
  readonly key: string
  packet: StoredPacket
  removed: boolean
}

class Queue {
  items: Array<Entry | undefined> = []
  start = 0
  size = 0
  readonly byKey = new Map<string, Entry>()
  /** packet identifier -> entry, for entries handed to the client */
  readonly byMessageId = new Map<number, Entry>()

  push (entry: Entry): void {
    this.items.push(entry)
    this.byKey.set(entry.key, entry)
    this.size++
  }

  remove (entry: Entry): void {
    if (entry.removed) return
    entry.removed = true
    this.byKey.delete(entry.key)
    this.size--
    while (this.start < this.items.length && this.items[this.start]!.removed) this.items[this.start++] = undefined
    if (this.start > 1024 && this.start * 2 > this.items.length) { this.items = this.items.slice(this.start); this.start = 0 }
  }

  oldest (): Entry | undefined {
    for (let i = this.start; i < this.items.length; i++) { const e = this.items[i]!; if (!e.removed) return e }
    return undefined
  }
}

export function entryKey (packet: { brokerId?: unknown; brokerCounter?: unknown }): string {
  return `${String(packet.brokerId)}:${String(packet.brokerCounter)}`
}

export class MemoryQueues {
  readonly #queues = new Map<string, Queue>()
  readonly #max: number

  /** max: entries per queue (0: unbounded); past it the oldest are dropped */
  constructor (max: number) {
    this.#max = max
  }

  /** appends a copy; returns how many of the oldest entries were dropped for it */
  enqueue (clientId: string, packet: StoredPacket): number {
    let q = this.#queues.get(clientId)
    if (!q) { q = new Queue(); this.#queues.set(clientId, q) }
    const key = entryKey(packet)
    if (q.byKey.has(key)) return 0
    q.push({ key, packet: new Packet(packet), removed: false })
    let dropped = 0
    while (this.#max > 0 && q.size > this.#max) {
      const oldest = q.oldest()
      if (!oldest) break
      q.remove(oldest)
      dropped++
    }
    return dropped
  }

  /** the packet is being sent with this identifier (a PUBLISH), or its PUBREL is (QoS 2) */
  update (clientId: string, packet: StoredPacket): string | undefined {
    const q = this.#queues.get(clientId)
    if (!q || packet.messageId === undefined) return undefined
    if (packet.cmd === 'pubrel') {
      const entry = q.byMessageId.get(packet.messageId)
      if (entry) entry.packet = packet
      return entry?.key
    }
    const key = entryKey(packet)
    // An entry dropped meanwhile (bound, expiry) is still acknowledged by identifier.
    const entry = q.byKey.get(key) ?? { key, packet: new Packet(packet), removed: true }
    entry.packet.messageId = packet.messageId
    q.byMessageId.set(packet.messageId, entry)
    return key
  }

  /** acknowledged: removes the entry; returns it as Aedes' outgoingClearMessageId does */
  clear (clientId: string, messageId: number | undefined): { key: string; packet: StoredPacket } | undefined {
    const q = this.#queues.get(clientId)
    if (!q || messageId === undefined) return undefined
    const entry = q.byMessageId.get(messageId)
    if (!entry) return undefined
    q.byMessageId.delete(messageId)
    q.remove(entry)
    if (q.size === 0 && q.byMessageId.size === 0) this.#queues.delete(clientId)
    return { key: entry.key, packet: entry.packet }
  }

  head (clientId: string, count: number): string[] {
    const q = this.#queues.get(clientId)
    const out: string[] = []
    if (!q) return out
    for (let i = q.start; i < q.items.length && out.length < count; i++) {
      const e = q.items[i]!
      if (!e.removed) out.push(e.key)
    }
    return out
  }

  packets (clientId: string, keys: readonly string[]): Array<StoredPacket | undefined> {
    const q = this.#queues.get(clientId)
    return keys.map((k) => q?.byKey.get(k)?.packet)
  }

  length (clientId: string): number {
    return this.#queues.get(clientId)?.size ?? 0
  }

  drop (clientId: string): void {
    this.#queues.delete(clientId)
  }

  clientIds (): IterableIterator<string> {
    return this.#queues.keys()
  }
}
