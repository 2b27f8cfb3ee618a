// A bounded outbound buffer per connection: a subscriber's slowness costs only
// that subscriber (issue 15 item 5; what Mosquitto and EMQX do).
//
// Aedes' delivery calls back to the shared emitter only once the subscriber's
// socket has drained, so one subscriber that stops reading ends up holding every
// one of the emitter's slots (100) and stalls all delivery for up to drainTimeout.
// Here a delivery calls back as soon as its packet is handed to the socket, and
// the socket's backlog is bounded instead:
// - below the bound, a delivery is written as before (authorizeForward included);
// - past it, QoS 0 is dropped and counted; a QoS 1/2 message of a persistent session
//   is not written and stays in the session's store queue (Aedes enqueued it there
//   before delivery), as does every later QoS 1/2 message to it, so the order holds;
//   a clean session's QoS 1/2 (no queue to wait in, as in Mosquitto) and a retained
//   message sent on SUBSCRIBE (not queued) are dropped and counted;
// - a connection that went past the bound and has not drained within the slow-consumer
//   timeout is closed; a persistent session that had messages held back is closed as
//   soon as it has drained, and gets them, in order, from its queue when it reconnects.
// One audit line per episode (past the bound until drained or closed), a metric per message.
import type { Client } from 'aedes'
import type { AuditLogger } from '../audit/index.js'
import { clip } from '../audit/index.js'
import type { DecisionCounter } from './hooks.js'
import type { SessionRegistry } from './session.js'
import { aedesWaitForDrain, clientInternals, type AedesClientInternals, type Deliver, type DrainWait } from '../aedes/adapter.js'

export interface OutboundLimits {
  /** bytes written to the connection and not yet taken by it */
  readonly maxBytes: number
  /** how long a connection past the bound may take to drain */
  readonly slowConsumerMs: number
  readonly log: AuditLogger
  readonly sessions: SessionRegistry
  readonly decisions?: DecisionCounter
}

function noop (): void {}

/** One slow-consumer episode: from past the bound to drained (or closed). */
class Episode {
  readonly since = Date.now()
  dropped = 0
  deferred = 0
  timer: NodeJS.Timeout | undefined
}

class OutboundGate {
  episode: Episode | undefined
  /** a check is due at the next turn: is the buffer still past the bound? (settle) */
  settling = false
  // made at the first episode: most connections never have one (memory per idle connection)
  onDrain: (() => void) | undefined
  onClose: (() => void) | undefined

  constructor (readonly client: AedesClientInternals & Client, readonly limits: OutboundLimits) {}

  over (): boolean { return this.client.conn.writableLength >= this.limits.maxBytes }

  /** a persistent session has QoS 1/2 messages in its store queue that were not written */
  get behind (): boolean { return this.episode !== undefined && this.episode.deferred > 0 }

  start (): Episode {
    let ep = this.episode
    if (ep) return ep
    if (this.client.closed) return new Episode() // not kept: nothing to time or audit
    ep = this.episode = new Episode()
    const conn = this.client.conn
    this.onDrain ??= () => { this.drained() }
    this.onClose ??= () => { this.finish() }
    ep.timer = setTimeout(() => this.kick(`not drained within ${this.limits.slowConsumerMs} ms`), this.limits.slowConsumerMs)
    ep.timer.unref()
    conn.once('drain', this.onDrain)
    conn.once('close', this.onClose)
    this.log().warn({ evt: 'deliver.slow', reason: 'slow_consumer', buffered: conn.writableLength, max: this.limits.maxBytes }, 'slow consumer: outbound buffer past its bound')
    return ep
  }

  /**
   * Past the bound after a write: an episode begins if the buffer still is at the next turn, once the chunks
   * handed to the socket so far have had their turn to reach the kernel. A burst of deliveries written at once
   * (a cluster node's batch from Redis), which a reading client's kernel takes at the next turn, is not a slow
   * consumer. Since Node 22 streams buffer 64 KiB by default, not 16, and such bursts are larger than on Node 20.
   * A delivery refused meanwhile (drop, defer) starts the episode at once.
   */
  settle (): void {
    if (this.episode !== undefined || this.settling) return
    this.settling = true
    setImmediate(() => {
      this.settling = false
      if (this.over()) this.start()
    })
  }

  // A connection being closed drops what still comes for it without a new episode.
  drop (): void {
    if (this.client.closed) return
    this.start().dropped++
    this.limits.decisions?.inc('deliver.drop', 'slow_consumer')
  }

  defer (): void {
    if (this.client.closed) return
    this.start().deferred++
    this.limits.decisions?.inc('deliver.defer', 'slow_consumer')
  }

  drained (): void {
    const ep = this.episode
    if (!ep || this.client.closed) return this.finish()
    // Everything written has left; what was held back is in the store queue and
    // comes at the next connection, after what was written: close now.
    if (ep.deferred > 0) return this.kick('drained; held-back messages wait in the session queue')
    this.log().info({ evt: 'deliver.slow_end', reason: 'slow_consumer', dropped: ep.dropped, ms: Date.now() - ep.since }, 'slow consumer drained')
    this.finish()
  }

  kick (detail: string): void {
    const ep = this.episode
    if (this.client.closed) return this.finish()
    this.log().warn({ evt: 'deliver.kick', reason: 'slow_consumer', detail, dropped: ep?.dropped ?? 0, deferred: ep?.deferred ?? 0, ms: ep ? Date.now() - ep.since : 0 }, 'slow consumer closed')
    this.limits.decisions?.inc('deliver.kick', 'slow_consumer')
    this.finish()
    this.client.close()
  }

  finish (): void {
    const ep = this.episode
    if (!ep) return
    this.episode = undefined
    clearTimeout(ep.timer)
    this.client.conn.removeListener('drain', this.onDrain!)
    this.client.conn.removeListener('close', this.onClose!)
  }

  log (): AuditLogger {
    return this.limits.sessions.get(this.client)?.log ?? this.limits.log.child({ conn: { clientId: clip(this.client.id) } })
  }
}

/**
 * Bound a client's outbound buffer. Call right after broker.handle(), before any
 * SUBSCRIBE. False (nothing changed) when the client's shape is not Aedes 1.2's.
 */
export function boundOutbound (client: Client, limits: OutboundLimits): boolean {
  const c = clientInternals(client)
  if (!c) return false
  const aedesWait = aedesWaitForDrain(c)!
  const gate = new OutboundGate(c, limits)
  const deliver0: Deliver = c.deliver0
  const deliverQoS: Deliver = c.deliverQoS

  // setImmediate(cb), not cb(): a delivery that calls back at once makes the emitter
  // start its next message on the same stack (mqemitter's released -> _do).
  c.deliver0 = function boundedDeliver0 (packet, cb) {
    if (gate.over()) gate.drop()
    else deliver0(packet, noop)
    setImmediate(cb)
  }
  c.deliverQoS = function boundedDeliverQoS (packet, cb) {
    if (packet.qos === 0) return c.deliver0(packet, cb)
    const retained = packet.retain === true
    if (gate.over() || (gate.behind && !retained)) {
      if (!c.clean && !retained) gate.defer()
      else gate.drop()
    } else {
      deliverQoS(packet, noop)
    }
    setImmediate(cb)
  }
  // Aedes waits for 'drain' whenever a write finds more than the socket's high-water
  // mark (64 KiB on Node 24) pending; it waits here only past the bound (its backlog replay
  // at CONNECT keeps its flow control, with this window), and the episode starts with it
  // if the buffer is still past the bound at the next turn (settle).
  const boundedWait: DrainWait = function boundedWaitForDrain (done) {
    if (!gate.over()) { setImmediate(done, null, c); return }
    gate.settle()
    aedesWait.call(c, done)
  }
  c.waitForDrain = boundedWait
  return true
}
