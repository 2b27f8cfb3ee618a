// The live part, on a running broker (the shipped one or a user's own Aedes):
// fleetgate's limits, a safe emitter, the 'error' listener, the persistence
// wrappers, live revocation, takeover audit, and one audit line per protocol error.
import type { EventEmitter } from 'node:events'
import type { Aedes, Client } from 'aedes'
import type { Config } from '../config/index.js'
import { clip, type AuditLogger } from '../audit/index.js'
import type { DecisionCounter } from '../contract/checks.js'
import { classifyProtocolError, type RevocationGuard } from '../checks/index.js'
import { makeMqSafe } from '../cluster/mq.js'
import { boundUnreleasedQos2, type UnreleasedCount } from '../sessions/index.js'
import { AEDES_CHECKED_VERSION, aedesVersion, brokerMq, brokerPersistence, setClientLimits, setDrainTimeout } from '../aedes/adapter.js'
import { storeGrantedSubscriptionsOnly } from './stored-subscriptions.js'
import { auditRemoteTakeovers } from './takeover.js'
import type { ConnectionIdentities } from './identities.js'
import type { SessionRegistry } from './session.js'

export interface AttachDeps {
  readonly config: Config
  readonly log: AuditLogger
  readonly decisions: DecisionCounter
  readonly sessions: SessionRegistry
  readonly identities: ConnectionIdentities
  readonly revocationGuard: RevocationGuard
  /** how many unreleased QoS 2 packets the persistence holds for a clientId (shared stores) */
  readonly countUnreleasedQos2?: UnreleasedCount
}

export function attachTo (broker: Aedes, deps: AttachDeps): void {
  const { config, log, decisions, sessions, identities } = deps
  // fleetgate's limits apply to a broker the user built: Aedes reads both per client.
  setClientLimits(broker, { connectTimeout: config.connectTimeout, maxTopicLevels: config.maxTopicLevels, maxInflightInbound: config.maxInflightQos2 })
  // fleetgate's slow-consumer timer closes a connection that does not drain (audited);
  // Aedes' own drain timeout starts at the same moment and is only a backstop behind it.
  setDrainTimeout(broker, 2 * config.slowConsumerTimeout)
  if (aedesVersion(broker) !== AEDES_CHECKED_VERSION) log.warn({ evt: 'broker.version', aedes: aedesVersion(broker), checked: AEDES_CHECKED_VERSION }, 'Aedes version differs from the one fleetgate was checked against')
  // Aedes' default emitter (concurrency 100) overflows the stack under a flood (src/cluster/mq.ts).
  if (makeMqSafe(brokerMq(broker))) log.info({ evt: 'broker.mq', concurrency: 0 }, 'broker emitter set to concurrency 0')
  ;(broker as EventEmitter).on('error', (err: Error) => log.error({ evt: 'broker.error', err: err.message }, 'broker error'))
  storeGrantedSubscriptionsOnly(brokerPersistence(broker), sessions)
  boundUnreleasedQos2(brokerPersistence(broker), config.maxInflightQos2, (client, held) => {
    const session = sessions.get(client)
    ;(session?.log ?? log).warn({ evt: 'publish.deny', reason: 'too_many_unreleased', held, max: config.maxInflightQos2 }, 'QoS 2 publish refused: too many unreleased')
    decisions.inc('publish.deny', 'too_many_unreleased')
  }, deps.countUnreleasedQos2)
  deps.revocationGuard.start()
  auditRemoteTakeovers(broker, sessions, decisions)
  // Aedes closes a connection on a parser or protocol error and says so only
  // by these events: audited once per connection (one bad read chunk may
  // hold a thousand bad packets, each its own error).
  const audited = new WeakSet<Client>()
  const onProtocolError = (client: Client, err: Error) => {
    if (audited.has(client)) return
    const remote = identities.remoteOf(client.conn as object) ?? sessions.get(client)?.remote ?? ('remoteAddress' in client.conn ? client.conn.remoteAddress : undefined)
    if (/connect did not arrive in time/.test(err?.message)) {
      audited.add(client)
      log.warn({ evt: 'stream.deny', reason: 'connect_timeout', remote }, 'no CONNECT in time')
      decisions.inc('stream.deny', 'connect_timeout')
      return
    }
    const e = classifyProtocolError(err)
    if (e === null) return
    audited.add(client)
    log.warn({ evt: 'stream.deny', reason: e.reason, detail: e.detail, remote, ...(client.id ? { client: { id: clip(client.id) } } : {}) }, 'connection closed: protocol error')
    decisions.inc('stream.deny', e.reason)
  }
  broker.on('connectionError', onProtocolError)
  broker.on('clientError', onProtocolError)
}
