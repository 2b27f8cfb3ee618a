// Complete, ordered delivery of a persistent session's queue (clean session 0).
//
// Aedes 1.2 reads the queue once at CONNECT (lib/handlers/connect.js emptyQueue:
// one outgoingStream, piped through write-and-wait-for-drain), and resumes the
// client and its live subscriptions before that read. aedes-persistence-redis 12
// reads one inclusive `LRANGE 0 maxSessionDelivery` (1,001 of a longer queue; the
// rest waited for later reconnects), and the live QoS 1 messages overtook the
// backlog. Here outgoingStream is a paged reader that follows the queue until it
// has caught up, and a persistent session's live QoS > 0 deliveries are held
// back until then: every such message was appended to the same queue before it
// was emitted (Aedes: storeRetained, enqueueOffline, then emit), so the reader
// delivers it in queue order and nothing is delivered twice.
//
// Flow control: at most `window` messages of the backlog are unacknowledged at a
// time (MQTT 3.1.1 has no receive maximum; EMQX's max_inflight is 32, Mosquitto's
// 20), pages of `page` entries are read at a time, and Aedes' pipeline waits for
// the socket's drain after each write: memory per draining client is bounded by
// window + page entries, whatever the queue's length.

import type { QueuedPacket } from '../aedes/adapter.js'
import { ConnectionSlot } from '../aedes/slots.js'

/** A queued packet as the store gives it back (aedes-packet fields). */
export type StoredPacket = QueuedPacket

export interface QueueHead {
  /** keys (stable identities) of the oldest `count` entries of the client's queue */
  head (clientId: string, count: number): Promise<string[]>
  /** their packets; undefined: gone (expired, dropped), and the store drops the entry */
  packets (clientId: string, keys: readonly string[]): Promise<Array<StoredPacket | undefined>>
  /**
   * Discard the client's queue, unsent (a clean session's CONNECT): whatever a
   * previous session left, including entries queued while its subscriptions were
   * being removed. Not awaited by the CONNECT.
   */
  discard? (clientId: string): void
}

/** What of an Aedes Client is used here (lib/client.js). */
export interface DeliveringClient {
  id: string
  clean: boolean
  closed: boolean
  deliverQoS: (packet: StoredPacket, cb: () => void) => void
}

interface DeliveryState {
  /** the backlog has been caught up: live deliveries go straight to the client */
  live: boolean
  /** live deliveries held back so far (each one is in the queue) */
  held: number
  /** queue keys delivered by the reader and not yet acknowledged */
  inflight: Set<string> | null
  /** acknowledged while a read was under way: that read may still show them */
  acked: Set<string> | null
  wake: (() => void) | null
  /** the client's own deliverQoS (Aedes'), past the hold */
  deliver: DeliveringClient['deliverQoS'] | null
  /** a resync reads the queue now */
  resyncing: boolean
  /** another resync was asked for meanwhile: read again when this one is done */
  again: boolean
}

export interface BacklogOptions {
  readonly window?: number
  readonly page?: number
  /** re-read the queue after this long without an acknowledgement (acks missed by a store cache) */
  readonly recheckMs?: number
}

export class BacklogDelivery {
  readonly window: number
  readonly page: number
  readonly recheckMs: number
  readonly #queues: QueueHead
  readonly #states = new ConnectionSlot<DeliveryState>('backlog')

  constructor (queues: QueueHead, opts: BacklogOptions = {}) {
    this.#queues = queues
    this.window = opts.window ?? 256
    this.page = opts.page ?? 128
    this.recheckMs = opts.recheckMs ?? 1000
  }

  #state (client: object): DeliveryState {
    let s = this.#states.get(client)
    if (!s) { s = { live: false, held: 0, inflight: null, acked: null, wake: null, deliver: null, resyncing: false, again: false }; this.#states.set(client, s) }
    return s
  }

  /**
   * Called for every new Aedes Client, before its CONNECT is processed (Aedes
   * captures client.deliverQoS when it restores the session's subscriptions).
   */
  holdLive (client: DeliveringClient): void {
    const state = this.#state(client)
    const deliver = client.deliverQoS
    state.deliver = deliver
    client.deliverQoS = function deliverAfterBacklog (packet, cb) {
      // Retained messages sent on SUBSCRIBE are not queued: they pass.
      if (!state.live && client.clean === false && (packet.qos ?? 0) > 0 && packet.retain !== true) {
        state.held++
        setImmediate(cb)
        return
      }
      deliver(packet, cb)
    }
  }

  /**
   * outgoingStream(client): the whole queue, in order, paged, until caught up.
   * `delivered`: queue keys already sent on this connection and not yet
   * acknowledged (a resync): they are not sent again.
   */
  stream (client: DeliveringClient, delivered: Iterable<string> = []): AsyncGenerator<StoredPacket> {
    // A clean session has no backlog (MQTT-3.1.2-6): Aedes reads the queue at its
    // CONNECT only to clear it unsent (emptyQueueFilter), a reader per connect. The
    // store discards it instead; nothing is held for a clean session
    // (deliverAfterBacklog). A client already closed (taken over within its CONNECT)
    // discards nothing: the queue may be its successor's.
    if (client.clean !== false) {
      if (!client.closed) this.#queues.discard?.(client.id)
      return nothing()
    }
    const state = this.#state(client)
    const queues = this.#queues
    const { window, page } = this
    const waitForAck = () => new Promise<void>((resolve) => {
      const t = setTimeout(() => wake(), this.recheckMs)
      const wake = () => { clearTimeout(t); state.wake = null; resolve() }
      state.wake = wake
    })
    async function * backlog (): AsyncGenerator<StoredPacket> {
      const inflight = new Set<string>(delivered)
      const acked = new Set<string>()
      state.inflight = inflight
      state.acked = acked
      try {
        for (;;) {
          if (client.closed) return
          const heldBefore = state.held
          const keys = await queues.head(client.id, inflight.size + page)
          // Entries are appended at the tail and removed anywhere (acknowledged,
          // dropped at the bound), and those delivered and unacknowledged are all
          // ahead of the undelivered ones: one not in this head is gone.
          if (inflight.size > 0 || acked.size > 0) {
            const present = new Set(keys)
            for (const k of inflight) if (!present.has(k)) inflight.delete(k)
            for (const k of acked) if (!present.has(k)) acked.delete(k)
          }
          if (inflight.size >= window) { await waitForAck(); continue }
          const fresh = keys.filter((k) => !inflight.has(k) && !acked.has(k)).slice(0, window - inflight.size)
          if (fresh.length === 0) {
            // Caught up, unless a live message was held meanwhile (it may have been
            // queued after this read): then read again.
            if (state.held === heldBefore) { state.live = true; return }
            continue
          }
          const packets = await queues.packets(client.id, fresh)
          for (let i = 0; i < fresh.length; i++) {
            if (client.closed) return
            inflight.add(fresh[i]!)
            const packet = packets[i]
            if (packet) yield forDelivery(packet)
          }
        }
      } finally {
        state.inflight = null
        state.acked = null
        state.wake?.()
      }
    }
    return backlog()
  }

  /**
   * Live deliveries were lost (the pub/sub link was away: a failover), but every
   * one of them is in the client's queue: hold the live ones again and deliver
   * the queue from its head, skipping what this connection has in flight
   * (`inFlight()`: queue keys sent and not acknowledged), until caught up. A client still reading its backlog needs
   * nothing: that read follows the queue anyway. Resolves when caught up (or
   * the client closed).
   */
  async resync (client: DeliveringClient, inFlight: () => Iterable<string>): Promise<number> {
    const state = this.#states.get(client)
    if (!state || state.deliver === null || client.closed) return 0
    // one under way may have read the queue before this gap's messages were queued: it reads again when done
    if (state.resyncing) { state.again = true; return 0 }
    if (!state.live) return 0
    state.live = false
    state.resyncing = true
    const deliver = state.deliver
    let sent = 0
    try {
      for (let pass = true; pass && !client.closed; pass = state.again) {
        state.again = false
        for await (const packet of this.stream(client, inFlight())) {
          if (client.closed) break
          await new Promise<void>((resolve) => deliver(packet, resolve))
          sent++
        }
        state.live = false
      }
    } finally {
      state.resyncing = false
      state.again = false
      // closed, or a store error mid-read: live deliveries pass again (a later resync or reconnect reads the rest)
      state.live = true
    }
    return sent
  }

  /** the client acknowledged the packet stored under these keys */
  acked (client: object, keys: readonly string[]): void {
    const state = this.#states.get(client)
    const inflight = state?.inflight
    if (!inflight) return
    // kept aside until a read no longer shows them (a read sent before the removal may)
    for (const k of keys) if (inflight.delete(k)) state.acked!.add(k)
    if (state.wake && inflight.size <= this.window / 2) state.wake()
  }

  /** a key that now stands for an in-flight packet (the PUBREL record of a QoS 2 message) */
  inFlight (client: object, key: string): void {
    this.#states.get(client)?.inflight?.add(key)
  }

  /** the backlog of this client has been caught up (tests, diagnostics) */
  isLive (client: object): boolean {
    return this.#states.get(client)?.live === true
  }
}

/**
 * A QoS 1 PUBLISH goes out with a new packet identifier: the one stored with it
 * (from an earlier delivery) could equal one in flight on this connection, and the
 * PUBACK of one would then clear the other. A QoS 2 PUBLISH and a PUBREL keep
 * theirs [MQTT-4.4.0-1]: the client deduplicates QoS 2 by it.
 */
function forDelivery (packet: StoredPacket): StoredPacket {
  if ((packet.cmd ?? 'publish') === 'publish' && packet.qos === 1 && packet.messageId !== undefined) {
    return { ...packet, messageId: undefined }
  }
  return packet
}

async function * nothing (): AsyncGenerator<StoredPacket> {}
