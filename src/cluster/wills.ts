// Wills in aedes-persistence-redis 12, keyed `will:<broker id>:<clientId>`.
// Two faults of Aedes 1.2 are corrected where the persistence is composed:
//
// 1. Its CONNECT handler (lib/handlers/connect.js) clears an earlier Will with
//    persistence.delWill(client) and waits for it before CONNACK. Aedes' client
//    has no brokerId, so the persistence looks for `will:undefined:<clientId>`, a
//    key nobody writes: three Redis commands and a round trip on every connect,
//    for nothing. Here a call without brokerId means this node's key, and it
//    goes to Redis only when this node stored a Will for that clientId: the
//    broker id is random per process, so no other process writes under it, and
//    this node's putWill and delWill calls all pass through these wrappers.
// 2. On a takeover the new connection stores its Will, then the old connection
//    closes and, once its own Will is published, deletes `will:<this node>:<id>`:
//    the new connection's Will. Had this node then died, no other node would
//    have published it. A delete of this node's key while the clientId's
//    current connection is open and has a Will is that stale delete: skipped.
import { hasLiveWill, persistenceWills, type WillClient } from '../aedes/adapter.js'

export function keyWillsToThisNode<T extends object> (persistence: T): T {
  const wills = persistenceWills(persistence)
  const setup = wills.setup.bind(wills)
  const putWill = wills.putWill.bind(wills)
  const delWill = wills.delWill.bind(wills)
  let broker: ({ id: string } & object) | undefined
  /** clientIds with a Will this node stored and has not deleted */
  const stored = new Set<string>()
  // Aedes requires an AsyncFunction here (aedes.js checks setup.constructor.name)
  wills.setup = async function setupKnowingBroker (b) {
    broker = b
    return await setup(b)
  }
  wills.putWill = async function putWillRemembered (client, packet) {
    stored.add(client.id)
    return await putWill(client, packet)
  }
  wills.delWill = async function delWillOfThisNode (client: WillClient) {
    if (client.brokerId === undefined) {
      // the CONNECT handler's call (1): this node's key, if it holds one
      if (!stored.has(client.id)) return undefined
      client = { id: client.id, brokerId: broker?.id }
    } else if (client.brokerId === broker?.id && hasLiveWill(broker, client.id)) {
      return undefined // a closed connection's delete of its successor's Will (2)
    }
    if (client.brokerId === broker?.id) stored.delete(client.id)
    return await delWill(client)
  }
  return persistence
}
