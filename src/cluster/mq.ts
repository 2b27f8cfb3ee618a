// The broker's message emitter (Aedes' `mq`), made so a flood cannot overflow
// the stack (issue 15 item 4).
//
// Aedes' own emitter is mqemitter({ concurrency: 100 }). Past 100 messages in
// delivery, mqemitter queues the rest, and each message that finishes starts
// the next queued one on the same stack (`released` -> `_do`). A queued
// message no listener matches (a subscriber that just left, a topic nobody
// reads) finishes synchronously, so a few thousand of them in a row throw
// "RangeError: Maximum call stack size exceeded" and the broker dies (mqemitter
// 7.1.0, no upstream fix: mqemitter PR #204 is open). With concurrency 0 there
// is no queue: every emit is delivered at once, in emit order, and nothing
// chains. Nothing is lost by it: the 100-slot pool bounds no memory (the queue
// behind it has no bound) and one stuck subscriber could hold every slot, while
// each publisher's reads already wait for its own messages to be delivered.
// mqemitter-redis (cluster mode) builds the same MQEmitter from these options.
import { createRequire } from 'node:module'
import type { BrokerMq } from '../aedes/adapter.js'

const require = createRequire(import.meta.url)

/** The options every fleetgate emitter is built with (embedded and cluster). */
export const MQ_OPTIONS = Object.freeze({
  /** no queue, hence no released -> _do chain (see above) */
  concurrency: 0,
  /** [MQTT-4.7.1-3]: `a/#` matches `a`, as Aedes' own emitter does */
  matchEmptyLevels: true,
})

/** What Aedes needs of an emitter; mqemitter's `concurrency` is a plain property read at every emit. */
export type { BrokerMq }

/**
 * An in-process emitter for Aedes.createBroker({ mq: createMq() }): what
 * `fleetgate serve` runs without --redis, and what a library user building
 * their own Aedes should pass (attach() also makes Aedes' default emitter safe).
 */
export function createMq (): BrokerMq {
  const mqemitter = require('mqemitter') as (opts: typeof MQ_OPTIONS) => BrokerMq
  return mqemitter({ ...MQ_OPTIONS })
}

/**
 * A broker built with Aedes' default emitter (concurrency 100) gets
 * concurrency 0 before any client connects. Returns true when it changed it.
 */
export function makeMqSafe (mq: BrokerMq | undefined): boolean {
  if (!mq || typeof mq.concurrency !== 'number' || mq.concurrency === 0) return false
  mq.concurrency = 0
  return true
}
