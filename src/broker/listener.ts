// The listener part: the tls.Server 'secureConnection' handler. Per-address
// admission, the byte-stream guard (packet size, publish rate) and the outbound
// bound sit between the TLSSocket and Aedes; the connection's identity is kept by
// the stream Aedes gets (ARCHITECTURE.md step 2).
import type { TLSSocket } from 'node:tls'
import type { Aedes } from 'aedes'
import type { Config } from '../config/index.js'
import { clip, type AuditLogger } from '../audit/index.js'
import type { DecisionCounter } from '../contract/checks.js'
import { admitConnection, type AdmitOptions, type ConnectionLimiter, type RateLimit } from '../checks/index.js'
import { AEDES_CHECKED_VERSION, aedesVersion, clientOfStream } from '../aedes/adapter.js'
import { boundOutbound, type OutboundLimits } from './outbound.js'
import type { ConnectionIdentities } from './identities.js'
import type { SessionRegistry } from './session.js'
import type { ClientAddresses } from './accept.js'
import type { SampledAudit } from '../audit/sampled.js'

export interface ListenerDeps {
  readonly config: Config
  readonly log: AuditLogger
  readonly decisions: DecisionCounter
  readonly limiter: ConnectionLimiter
  readonly identities: ConnectionIdentities
  readonly sessions: SessionRegistry
  /** connections handed to Aedes and not closed yet (the metric; a drain ends what is left) */
  readonly handed: Set<TLSSocket>
  /** the client's address of each connection (the PROXY header's with --proxy-protocol) */
  readonly addresses: ClientAddresses
  /** false once the node drains: a handshake that ends then is closed, never made a session */
  readonly admitting: () => boolean
  /** refusals before CONNECT, audited sampled (accept.deny) */
  readonly acceptAudit: SampledAudit
}

/** --max-publish-rate: the guard drops QoS 0 PUBLISHes over it and closes on persistent excess. */
function publishRateLimit (config: Config, log: AuditLogger, decisions: DecisionCounter, addresses: ClientAddresses): RateLimit | undefined {
  const rate = config.maxPublishRate
  if (rate === 0) return undefined
  const clientIdOf = (socket: object) => {
    const id: unknown = clientOfStream(socket)?.id
    return typeof id === 'string' ? clip(id) : undefined
  }
  return {
    perSecond: rate,
    handler: {
      dropped (socket, count, first) {
        if (decisions.add) decisions.add('publish.drop', 'rate_limited', count)
        else for (let k = 0; k < count; k++) decisions.inc('publish.drop', 'rate_limited')
        // once per run of seconds with drops, never per message
        if (first) log.warn({ evt: 'publish.drop', reason: 'rate_limited', rate, client: { id: clientIdOf(socket), remote: addresses.remoteOf(socket) } }, 'QoS 0 PUBLISHes over the publish rate dropped')
      },
      closed (socket, dropped) {
        log.warn({ evt: 'publish.deny', reason: 'rate_limited', rate, dropped, client: { id: clientIdOf(socket), remote: addresses.remoteOf(socket) } }, 'connection closed: over the publish rate')
        decisions.inc('publish.deny', 'rate_limited')
      },
    },
  }
}

/** the refusal's text, made only for a refused connection (not one string per CONNECT) */
function overLimitDetail (count: number, max: number): string {
  return `${count} connections from this address, limit ${max}`
}

export function connectionHandler (broker: Aedes, deps: ListenerDeps): (socket: TLSSocket) => void {
  const { config, log, decisions, limiter, identities, sessions, handed, addresses, admitting, acceptAudit } = deps
  // Made once per server, not per connection (memory per idle connection).
  const admitOptions: AdmitOptions = {
    limiter,
    maxPacketSize: config.maxPacketSize,
    rateLimit: publishRateLimit(config, log, decisions, addresses),
    onOversize: (over, socket) => {
      // a remaining length of five bytes or more is no length at all [MQTT-2.2.3]
      if (over.announced < 0) {
        log.warn({ evt: 'stream.deny', reason: 'malformed_packet', detail: 'malformed remaining length', remote: addresses.remoteOf(socket) }, 'malformed packet')
        decisions.inc('stream.deny', 'malformed_packet')
        return
      }
      log.warn({ evt: 'stream.deny', reason: 'packet_too_large', announced: over.announced, max: config.maxPacketSize, remote: addresses.remoteOf(socket) }, 'packet too large')
      decisions.inc('stream.deny', 'packet_too_large')
    },
  }
  const unhand = function (this: TLSSocket) { handed.delete(this) }
  const outbound: OutboundLimits = { maxBytes: config.maxOutboundBuffer, slowConsumerMs: config.slowConsumerTimeout, log, sessions, decisions }
  let unbounded = false
  return function fleetgateConnection (socket: TLSSocket) {
    const remote = addresses.remoteOf(socket)
    // a handshake begun before the drain closed the listener: this node takes no new session
    if (!admitting()) {
      socket.destroy()
      decisions.inc('accept.deny', 'draining')
      acceptAudit.warn('accept.deny', 'draining', { remote }, 'connection closed before CONNECT: node draining')
      return
    }
    const admitted = admitConnection(socket, admitOptions, remote)
    if (admitted.stream === null) {
      log.warn({ evt: 'connect.deny', reason: 'too_many_connections', remote, detail: overLimitDetail(admitted.count, limiter.max) + ', dropped before CONNECT' }, 'connection flood shed')
      decisions.inc('connect.deny', 'too_many_connections')
      return
    }
    handed.add(socket)
    socket.on('close', unhand)
    identities.set(admitted.stream, admitted.overLimit ? { identity: null, remote, refusal: { reason: 'too_many_connections', detail: overLimitDetail(admitted.count, limiter.max) } } : identities.describe(socket, remote))
    const client = broker.handle(admitted.stream)
    // Before any SUBSCRIBE: subscriptions register the client's delivery functions.
    if (!boundOutbound(client, outbound) && !unbounded) {
      unbounded = true
      log.error({ evt: 'broker.error', err: `Aedes ${aedesVersion(broker) ?? '?'} client shape differs from ${AEDES_CHECKED_VERSION}: no outbound buffer bound` }, 'outbound bound not installed')
    }
  }
}
