// createFleetgate: the plugin. Validated config, loaded TLS material and policy,
// the Aedes hooks, the TLS server options and the connection handler.
import type { TLSSocket, TlsOptions } from 'node:tls'
import { existsSync } from 'node:fs'
import type { Aedes, Client, PublishPacket } from 'aedes'
import { resolveConfig, type Config, type ConfigInput } from '../config/index.js'
import { clip, createAuditLogger, type AuditLogger } from '../audit/index.js'
import { loadTlsMaterial, peerLeaf, peerLeafDer, tlsServerOptions, type LoadedTlsMaterial } from '../tls/index.js'
import { ChainVerifier } from '../pki/chain.js'
import { IdentityCache, sha256Hex } from '../identity/index.js'
import { loadPolicyFile, defaultPolicyPath, type Policy } from '../policy/index.js'
import { SessionRegistry, type ConnectionInfo } from './session.js'
import { storeGrantedSubscriptionsOnly } from './stored-subscriptions.js'
import { endSession } from './end-session.js'
import { makeMqSafe, type BrokerMq } from './mq.js'
import { createHooks, type ConnectCheck, type DecisionCounter, type FleetgateHooks, type PublishCheck } from './hooks.js'
import type { SessionView } from '../contract/checks.js'
import { commandEdgeCheck, edgeCommandTrust, type SignerRevocationLookup } from '../edge/index.js'
import { admitConnection, classifyProtocolError, ConnectionLimiter, type AdmitOptions, type RateLimit } from '../guard/index.js'
import { createMetrics, type FleetgateMetrics } from '../metrics/index.js'
import { loadReloadable, reconsider, type ReloadResult } from '../reload/index.js'
import { openRevocationStore, RevocationGuard, type RevocationStore } from '../revocation/index.js'
import { devPkiPaths } from '../pki/dev-pki.js'
import { MemoryClientIdOwners, boundUnreleasedQos2, type ClientIdOwnerStore, type UnreleasedCount } from '../sessions/index.js'
import { auditRemoteTakeovers } from './takeover.js'
import { boundOutbound, type OutboundLimits } from './outbound.js'
import { AEDES_CHECKED_VERSION, aedesVersion, setDrainTimeout } from './aedes-client.js'

export interface FleetgateOptions {
  /** audit logger; default: pino to stdout at config.logLevel */
  readonly logger?: AuditLogger
  /** environment to read FLEETGATE_* variables from; default: none (library) */
  readonly env?: NodeJS.ProcessEnv
  readonly decisions?: DecisionCounter
  /** prom-client registry holder; default: a new one per instance */
  readonly metrics?: FleetgateMetrics
}

export interface Fleetgate {
  readonly config: Config
  readonly hooks: FleetgateHooks
  readonly log: AuditLogger
  readonly sessions: SessionRegistry
  /** options for tls.createServer: mutual TLS, TLS 1.2+, AEAD, no resumption */
  tlsOptions (): TlsOptions
  /** the tls.Server 'secureConnection' listener: identity, then broker.handle */
  connectionHandler (broker: Aedes): (socket: TLSSocket) => void
  /** live work on a running broker ('error' listener, stream events) */
  attach (broker: Aedes): void
  readonly policy: Policy
  readonly metrics: FleetgateMetrics
  /** the revocation store (Redis with config.redis, else the file store under config.dataDir) */
  readonly revocations: RevocationStore
  /** connect check + live enforcement of revocations */
  readonly revocationGuard: RevocationGuard
  /** who owns each clientId (Redis with config.redis, else in memory beside Aedes' sessions) */
  readonly owners: ClientIdOwnerStore
  /** Re-read TLS material and policy; on success live sessions are re-decided (policy_changed). Nothing changes on failure. */
  reload (): ReloadResult
  close (): Promise<void>
}

export function tlsPaths (config: Config): { ca: string; cert: string; key: string } {
  if (config.ca && config.cert && config.key) return { ca: config.ca, cert: config.cert, key: config.key }
  const dev = devPkiPaths(config.devPki, [])
  return { ca: dev.root.cert, cert: dev.broker.cert, key: dev.broker.key }
}

/**
 * The policy file: --policy; else, with the dev PKI, its policy.yaml (the shipped
 * policy pinned by that PKI's CA keys) when it has one; else the shipped policy.
 */
export function policyPath (config: Config): string {
  if (config.policy !== undefined) return config.policy
  if (!config.ca) {
    const dev = devPkiPaths(config.devPki, []).policy
    if (existsSync(dev)) return dev
  }
  return defaultPolicyPath
}

export interface FleetgateParts {
  connectChecks?: ConnectCheck[]
  publishChecks?: PublishCheck[]
  /** the edge command check's signer revocation lookup (--enforce-signed-commands) */
  isSignerRevoked?: SignerRevocationLookup
  /**
   * Who owns each clientId. It must live where Aedes keeps the sessions: the default
   * (in memory) fits Aedes' default persistence; several nodes sharing sessions in
   * Redis need RedisClientIdOwners (startBroker does this with --redis). Closed by close().
   */
  owners?: ClientIdOwnerStore
  /** how many unreleased QoS 2 packets Aedes' persistence holds for a clientId (shared stores; default: counted in this process) */
  countUnreleasedQos2?: UnreleasedCount
}

export async function createFleetgate (input: ConfigInput | Config = {}, options: FleetgateOptions = {}, parts: FleetgateParts = {}): Promise<Fleetgate> {
  const config = resolveConfig(input as ConfigInput, options.env ?? {})
  const log = options.logger ?? createAuditLogger({ level: config.logLevel })
  let material: LoadedTlsMaterial = loadTlsMaterial(tlsPaths(config))
  let policy = loadPolicyFile(policyPath(config))
  const metrics = options.metrics ?? createMetrics()
  const decisions: DecisionCounter = options.decisions ?? metrics.decisions
  const limiter = new ConnectionLimiter(config.maxConnectionsPerIp)
  let handed = 0
  const sessions = new SessionRegistry()
  const identities = new IdentityCache()
  const connections = new WeakMap<object, ConnectionInfo>()
  // Revocation (DESIGN step 3 and 8): the store is opened and subscribed before the first CONNECT.
  const revocations = await openRevocationStore(config, log)
  const revocationGuard = new RevocationGuard({
    store: revocations, sessions, log, decisions,
    recheckMs: config.revocationRecheck, cacheMs: config.revocationCache, failOpen: config.revocationFailOpen,
  })
  try { await revocationGuard.listen() } catch (err) { await revocations.close(); throw err }
  // clientId owners live beside the sessions: the caller who chose Aedes' persistence says where (parts.owners).
  const owners: ClientIdOwnerStore = parts.owners ?? new MemoryClientIdOwners()

  let chains = new ChainVerifier(material.caDer)

  let trustGeneration = 0

  function describe (socket: TLSSocket): ConnectionInfo {
    const remote = socket.remoteAddress
    const generation = trustGeneration
    // The shipped server refuses unverified peers in the handshake; a library
    // user's server with rejectUnauthorized off must not get identities from them.
    if (socket.authorized !== true) return { identity: null, remote, generation, refusal: { reason: 'no_client_auth', detail: 'TLS peer not verified' } }
    try {
      const leafDer = peerLeafDer(socket)
      if (!leafDer) return { identity: null, remote, generation }
      // A reconnecting car is not parsed (nor its chain verified) again.
      const fingerprint = sha256Hex(leafDer)
      let entry = identities.get(fingerprint)
      if (!entry) {
        let chain = chains.chainOfKnown(leafDer)
        if (!chain) { const leaf = peerLeaf(socket); chain = leaf ? chains.chainOf(leaf) : null }
        if (!chain) return { identity: null, remote, generation, refusal: { reason: 'no_client_auth', detail: 'no chain of verified signatures to a trust anchor' } }
        entry = identities.fromChain(chain, fingerprint)
      }
      const { identity, check } = entry
      return check.ok ? { identity, remote, generation } : { identity, remote, generation, refusal: { reason: check.reason, detail: check.detail } }
    } catch (err) {
      // An unparseable certificate is refused, never half-trusted.
      return { identity: null, remote, generation, refusal: { reason: 'no_client_auth', detail: 'certificate cannot be parsed' } }
    }
  }


  const makeEdge = (): PublishCheck => commandEdgeCheck({ trust: edgeCommandTrust(material.caDer, material.cert), isRevoked: parts.isSignerRevoked ?? revocationGuard.signerRevoked, revocationFailOpen: config.revocationFailOpen })
  let edgeCheck: PublishCheck | null = config.enforceSignedCommands ? makeEdge() : null

  const hooks = createHooks({
    policy: () => policy,
    connection: (client: Client) => {
      const conn = client.conn as object
      let info = connections.get(conn)
      // A user may hand the TLSSocket to broker.handle directly; and a connection
      // whose TLS ended before a reload is decided again against the new trust bundle.
      const stale = info !== undefined && info.generation !== undefined && info.generation !== trustGeneration
      if ((!info || stale) && typeof (conn as TLSSocket).getPeerCertificate === 'function') {
        info = describe(conn as TLSSocket)
        connections.set(conn, info)
      }
      return info
    },
    sessions,
    log,
    connectChecks: [revocationGuard.check, ...(parts.connectChecks ?? [])],
    isCurrent: (info: ConnectionInfo) => info.generation === undefined || info.generation === trustGeneration,
    decided: (client: Client) => { connections.delete(client.conn as object) },
    publishChecks: [
      ...(parts.publishChecks ?? []),
      // DESIGN step 6: signed commands verified at the edge (off by default); trust = --ca roots + the broker's issuing CA
      // (rebuilt by reload: a trust bundle that drops a CA drops its signers too)
      ...(config.enforceSignedCommands ? [function edgeCommands (session: SessionView, packet: PublishPacket) { return edgeCheck!(session, packet) }] : []),
    ],
    keepaliveMaxSeconds: Math.floor(config.keepaliveMax / 1000),
    decisions,
    owners,
    maxRetainedSize: config.maxRetainedSize,
  })
  metrics.track({ sessions: () => sessions.size, connections: () => handed })

  function reload (): ReloadResult {
    const loaded = loadReloadable(tlsPaths(config), policyPath(config))
    if (!loaded.ok) {
      log.error({ evt: 'reload.fail', code: loaded.error.code, err: loaded.error.message }, 'reload failed, old configuration kept')
      return { ok: false, error: loaded.error }
    }
    material = loaded.value.material
    // a new trust bundle: chains are walked again against the new anchors
    chains = new ChainVerifier(material.caDer)
    identities.clear()
    trustGeneration++
    if (edgeCheck) edgeCheck = makeEdge()
    policy = loaded.value.policy
    let kept = 0
    let closed = 0
    for (const client of sessions.live()) {
      const session = sessions.get(client)
      if (!session || client.closed) continue
      const verdict = reconsider(session.identity, client.id, policy, loaded.value.trusted)
      if (verdict.keep) { session.grant = verdict.grant; kept++; continue }
      if (endSession(client, session, { evt: 'policy.kick', reason: verdict.reason, audit: { detail: verdict.detail }, message: 'session closed by reload' }, decisions)) closed++
    }
    log.info({ evt: 'reload.ok', roles: policy.roles, kept, closed }, 'configuration reloaded')
    return { ok: true, kept, closed, roles: policy.roles }
  }

  return {
    config,
    hooks,
    log,
    sessions,
    get policy () { return policy },
    metrics,
    revocations,
    revocationGuard,
    owners,
    reload,
    tlsOptions: () => tlsServerOptions(material, config.handshakeTimeout),
    connectionHandler (broker: Aedes) {
      // --max-publish-rate: the guard drops QoS 0 PUBLISHes over it and closes on persistent excess
      const clientIdOf = (socket: TLSSocket) => {
        const id = (socket as unknown as { client?: { id?: string | null } }).client?.id
        return typeof id === 'string' ? clip(id) : undefined
      }
      const rate = config.maxPublishRate
      const rateLimit: RateLimit | undefined = rate === 0 ? undefined : {
        perSecond: rate,
        handler: {
          dropped (socket, count, first) {
            if (decisions.add) decisions.add('publish.drop', 'rate_limited', count)
            else for (let k = 0; k < count; k++) decisions.inc('publish.drop', 'rate_limited')
            // once per run of seconds with drops, never per message
            if (first) log.warn({ evt: 'publish.drop', reason: 'rate_limited', rate, client: { id: clientIdOf(socket as TLSSocket), remote: socket.remoteAddress } }, 'QoS 0 PUBLISHes over the publish rate dropped')
          },
          closed (socket, dropped) {
            log.warn({ evt: 'publish.deny', reason: 'rate_limited', rate, dropped, client: { id: clientIdOf(socket as TLSSocket), remote: socket.remoteAddress } }, 'connection closed: over the publish rate')
            decisions.inc('publish.deny', 'rate_limited')
          },
        },
      }
      // Made once per server, not per connection (memory per idle connection).
      const admitOptions: AdmitOptions = {
        limiter,
        maxPacketSize: config.maxPacketSize,
        rateLimit,
        onOversize: (over, socket) => {
          // a remaining length of five bytes or more is no length at all [MQTT-2.2.3]
          if (over.announced < 0) {
            log.warn({ evt: 'stream.deny', reason: 'malformed_packet', detail: 'malformed remaining length', remote: socket.remoteAddress }, 'malformed packet')
            decisions.inc('stream.deny', 'malformed_packet')
            return
          }
          log.warn({ evt: 'stream.deny', reason: 'packet_too_large', announced: over.announced, max: config.maxPacketSize, remote: socket.remoteAddress }, 'packet too large')
          decisions.inc('stream.deny', 'packet_too_large')
        },
      }
      const unhand = () => { handed-- }
      const outbound: OutboundLimits = { maxBytes: config.maxOutboundBuffer, slowConsumerMs: config.slowConsumerTimeout, log, sessions, decisions }
      let unbounded = false
      return function fleetgateConnection (socket: TLSSocket) {
        // Guard and per-address limit sit between the TLSSocket and Aedes; the
        // identity is keyed by the stream Aedes gets (DESIGN step 2).
        const remote = socket.remoteAddress
        const admitted = admitConnection(socket, admitOptions)
        const refuseLimit = { reason: 'too_many_connections' as const, detail: `${admitted.count} connections from this address, limit ${limiter.max}` }
        if (admitted.stream === null) {
          log.warn({ evt: 'connect.deny', reason: 'too_many_connections', remote, detail: refuseLimit.detail + ', dropped before CONNECT' }, 'connection flood shed')
          decisions.inc('connect.deny', 'too_many_connections')
          return
        }
        handed++
        socket.on('close', unhand)
        connections.set(admitted.stream, admitted.overLimit ? { identity: null, remote, refusal: refuseLimit } : describe(socket))
        const client = broker.handle(admitted.stream)
        // Before any SUBSCRIBE: subscriptions register the client's delivery functions.
        if (!boundOutbound(client, outbound) && !unbounded) {
          unbounded = true
          log.error({ evt: 'broker.error', err: `Aedes ${aedesVersion(broker) ?? '?'} client shape differs from ${AEDES_CHECKED_VERSION}: no outbound buffer bound` }, 'outbound bound not installed')
        }
      }
    },
    attach (broker: Aedes) {
      // fleetgate's limits apply to a broker the user built: Aedes reads both per client.
      Object.assign(broker as object, { connectTimeout: config.connectTimeout, maxTopicLevels: config.maxTopicLevels, maxInflightInbound: config.maxInflightQos2 })
      // fleetgate's slow-consumer timer closes a connection that does not drain (audited);
      // Aedes' own drain timeout starts at the same moment and is only a backstop behind it.
      setDrainTimeout(broker, 2 * config.slowConsumerTimeout)
      if (aedesVersion(broker) !== AEDES_CHECKED_VERSION) log.warn({ evt: 'broker.version', aedes: aedesVersion(broker), checked: AEDES_CHECKED_VERSION }, 'Aedes version differs from the one fleetgate was checked against')
      // Aedes' default emitter (concurrency 100) overflows the stack under a flood (./mq.ts).
      if (makeMqSafe((broker as unknown as { mq?: BrokerMq }).mq)) log.info({ evt: 'broker.mq', concurrency: 0 }, 'broker emitter set to concurrency 0')
      ;(broker as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log.error({ evt: 'broker.error', err: err.message }, 'broker error'))
      storeGrantedSubscriptionsOnly((broker as unknown as { persistence: object }).persistence, sessions)
      boundUnreleasedQos2((broker as unknown as { persistence: object }).persistence, config.maxInflightQos2, (client, held) => {
        const session = sessions.get(client)
        ;(session?.log ?? log).warn({ evt: 'publish.deny', reason: 'too_many_unreleased', held, max: config.maxInflightQos2 }, 'QoS 2 publish refused: too many unreleased')
        decisions.inc('publish.deny', 'too_many_unreleased')
      }, parts.countUnreleasedQos2)
      revocationGuard.start()
      auditRemoteTakeovers(broker, sessions, decisions)
      // Aedes closes a connection on a parser or protocol error and says so only
      // by these events: audited once per connection (one bad read chunk may
      // hold a thousand bad packets, each its own error).
      const audited = new WeakSet<Client>()
      const onProtocolError = (client: Client, err: Error) => {
        if (audited.has(client)) return
        const remote = connections.get(client.conn as object)?.remote ?? sessions.get(client)?.remote ?? (client.conn as { remoteAddress?: string }).remoteAddress
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
    },
    async close () {
      identities.clear()
      await revocationGuard.stop()
      await revocations.close()
      await owners.close()
    },
  }
}
