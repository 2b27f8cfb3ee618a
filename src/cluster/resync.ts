// Redis pub/sub keeps nothing for a subscriber that is away. When the emitter's
// subscriber link reconnects (a failover: Sentinel named a new master), every
// message another node PUBLISHed before this link was subscribed again never
// reached this node, although it was queued (`outgoing:<clientId>`) for the
// persistent sessions it was meant for. mqemitter-redis re-subscribes (ioredis
// autoResubscribe) and says nothing of the gap; this tells the sessions to read
// their queues again (src/sessions: BacklogDelivery.resync), once the link is
// subscribed again: a PING on the subscriber link is answered after the
// re-SUBSCRIBEs ioredis sent on reconnect.
import type { Redis } from 'ioredis'

export class PubSubResync {
  readonly #listeners: Array<() => void> = []
  #readyOnce = false
  #stopped = false

  constructor (readonly sub: Redis) {
    // already connected when made? The first 'ready' is the start, not a reconnect.
    if (sub.status === 'ready') this.#readyOnce = true
    sub.on('ready', () => {
      if (!this.#readyOnce) { this.#readyOnce = true; return }
      // ioredis emits 'ready' a tick after it wrote the re-SUBSCRIBEs: this PING follows them
      sub.ping().then(() => { if (!this.#stopped) for (const l of this.#listeners) l() }, () => { /* dropped again: the next 'ready' resyncs */ })
    })
  }

  on (listener: () => void): void { this.#listeners.push(listener) }

  stop (): void { this.#stopped = true }
}
