// A session ended because its clientId connected on another node. Aedes ends it
// itself (closeSameClients, on `$SYS/<node>/new/clients` through the emitter every
// node shares) and says nothing; this node audits it. Checked against aedes 1.2.0.
import type { Aedes } from 'aedes'
import type { DecisionCounter } from './hooks.js'
import type { SessionRegistry } from './session.js'
import { brokerMq } from '../aedes/adapter.js'

const NEW_CLIENTS = '$SYS/+/new/clients'

export function auditRemoteTakeovers (broker: Aedes, sessions: SessionRegistry, decisions?: DecisionCounter): void {
  brokerMq(broker)!.on(NEW_CLIENTS, function fleetgateTakeoverAudit (packet, done) {
    const node = packet.topic.split('/')[1]
    if (node !== broker.id) {
      const clientId = packet.payload.toString()
      // Aedes' own listener (registered first) has just closed it, and may have
      // dropped it from its map already: fleetgate's registry still has it.
      const held = sessions.byClientId(clientId)
      const session = held !== undefined ? sessions.get(held) : undefined
      if (session !== undefined && session.endedFor === undefined) {
        session.log.info({ evt: 'session.takeover', reason: 'client_id_taken_over', node }, 'session taken over on another node by its identity')
        decisions?.inc('session.takeover', 'client_id_taken_over')
      }
    }
    done()
  })
}
