// A Redis failover is a stall: while no master answers, a PUBLISH is held here
// (not refused, not acknowledged) and goes on when the store is reachable again.
// Aedes sends a QoS 1 PUBACK before it queues the message in the store: without
// this hold, every message published during the stall would be PUBACKed and kept
// only in the node's memory (ioredis' offline queue) until the new master, lost if
// the node died meanwhile, and memory would grow with the outage. Held, the car
// keeps its unacknowledged messages and sends them again if it must reconnect.
// The hold comes before the other publish checks: the signed-command edge check
// would otherwise refuse a command (its signer's revocation cannot be looked up)
// and close the backend's session. Memory: one waiter per PUBLISH a live client
// has in flight (new connects are refused meanwhile).
import type { PublishPacket } from 'aedes'
import type { CheckResult, PublishCheck, SessionView } from '../contract/checks.js'
import type { PublishReason } from '../contract/reasons.js'

const PASS: CheckResult<PublishReason> = Object.freeze({ ok: true })

export class StoreStall {
  #waiters: Array<() => void> = []
  #timer: NodeJS.Timeout | null = null

  /** `reachable`: every store link the publish path writes to is up */
  constructor (readonly reachable: () => boolean, readonly pollMs = 50) {}

  /** PUBLISHes held now (tests, diagnostics) */
  get held (): number { return this.#waiters.length }

  readonly check: PublishCheck = (_session: SessionView, _packet: PublishPacket) => {
    if (this.#waiters.length === 0 && this.reachable()) return PASS
    return new Promise<CheckResult<PublishReason>>((resolve) => {
      this.#waiters.push(() => resolve(PASS))
      this.#timer ??= setInterval(() => this.#poll(), this.pollMs)
    })
  }

  #poll (): void {
    if (!this.reachable()) return
    // in the order they were held
    const waiters = this.#waiters
    this.#waiters = []
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    for (const w of waiters) w()
  }

  /** let every held PUBLISH go (closing: the broker is going away) */
  stop (): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}
