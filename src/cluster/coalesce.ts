// Aedes 1.2 stores a SUBSCRIBE by calling persistence.addSubscriptions(client,
// packet.subscriptions) once per filter, concurrently, each time with the whole
// list. aedes-persistence's broadcast waits for its own $SYS echo under the key
// clientId + first topic, so the second call replaces the first call's waiter:
// that promise never settles and the SUBACK is never sent (seen with
// aedes-persistence-redis: a clean=false client subscribing two filters in one
// packet got nothing). Identical calls in flight are therefore made once.
import { persistenceSubscriptions } from '../aedes/adapter.js'

export function coalesceAddSubscriptions<T extends object> (persistence: T): T {
  const store = persistenceSubscriptions(persistence)
  const original = store.addSubscriptions.bind(store)
  const inFlight = new Map<string, Promise<unknown>>()
  store.addSubscriptions = function coalescedAddSubscriptions (client, subs, cb) {
    if (cb) return original(client, subs, cb) // the callback style is not used by Aedes 1.2
    const key = client.id + '\u0000' + subs.map((s) => `${s.topic}\u0001${s.qos}`).join('\u0000')
    let pending = inFlight.get(key)
    if (!pending) {
      pending = Promise.resolve(original(client, subs)).finally(() => inFlight.delete(key))
      inFlight.set(key, pending)
    }
    return pending
  }
  return persistence
}
