// What a persistent session keeps. Aedes 1.2 stores a SUBSCRIBE by handing the
// persistence the packet's whole filter list, refused filters included, as soon
// as one filter is granted (lib/handlers/subscribe.js storeSubscriptions).
// authorizeForward already stops delivery on a refused filter, but the stored
// filter still matched: every QoS 1 message of the fleet was queued for an
// offline car that had asked for `vehicles/#` beside its own topic (in Redis,
// in a cluster), and written twice more at its reconnect. Only filters the
// session's grant covers are stored.
import type { SessionRegistry } from './session.js'
import type { AedesPersistence } from '../aedes/adapter.js'

export function storeGrantedSubscriptionsOnly (store: AedesPersistence, sessions: SessionRegistry): void {
  const add = store.addSubscriptions.bind(store)
  // Aedes calls this once per granted filter, each time with the packet's whole
  // list: the list is filtered and stored once, the later calls share that
  // result (no n² grant checks and persistence writes for an n-filter SUBSCRIBE).
  const storing = new WeakMap<object, Promise<unknown>>()
  store.addSubscriptions = function addGrantedSubscriptions (client, subs) {
    let done = storing.get(subs)
    if (done === undefined) {
      const grant = sessions.get(client)?.grant
      // no session: nothing of this client may be stored (fail closed)
      const granted = grant === undefined ? [] : subs.filter((s) => grant.canSubscribe(s.topic))
      done = granted.length === 0 ? Promise.resolve() : add(client, granted.length === subs.length ? subs : granted)
      storing.set(subs, done)
    }
    return done
  }
}
