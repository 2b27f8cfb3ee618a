// The ready broker: tls.Server + Aedes + fleetgate (what `fleetgate serve` runs).
import { createServer, type Server } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import { resolveConfig, type Config, type ConfigInput } from '../config/index.js'
import { createAuditLogger, type AuditLogger } from '../audit/index.js'
import { fgError } from '../contract/errors.js'
import { checkDevPki } from './config-files.js'
import { createFleetgate, type Fleetgate, type FleetgateParts } from './fleetgate.js'
import { composeHooks, type HookSet } from './compose.js'
import { clusterParts } from '../cluster/index.js'
import { createSessionStore, OWNER_STORES, type SessionBackend, type SessionStore } from '../sessions/index.js'
import { backendOf, openStore, storeContext } from '../stores/index.js'
import { createMq } from '../cluster/mq.js'
import { clientsOf, closeBroker } from '../aedes/adapter.js'
import { serveMetrics, type MetricsServer, type Readiness } from '../metrics/index.js'
import type { ReloadResult } from '../reload/index.js'
import { drainNode, type DrainOptions, type DrainResult } from './drain.js'

export type { DrainOptions, DrainResult } from './drain.js'

export interface RunningBroker {
  readonly config: Config
  readonly port: number
  readonly server: Server
  readonly broker: Aedes
  readonly fleetgate: Fleetgate
  /** the --metrics-port listener, when configured */
  readonly metrics?: MetricsServer
  /** persistent sessions: backlog delivery, --max-offline-messages, --session-expiry (onExpired) */
  readonly sessionStore: SessionStore
  /** SIGHUP work: new certificate, key, trust bundle and policy; the old ones stay on failure */
  reload (): ReloadResult
  /**
   * /readyz: ready to take new cars: listener up, broker certificate valid, revocation
   * store reachable (or --revocation-fail-open), not draining. Each check named in `checks`.
   */
  readiness (): Readiness
  /**
   * Stop accepting (readiness false at once), close sessions at `rate` per second (Wills
   * dropped: reason draining), the rest at once after `timeout`. Defaults: --drain-rate,
   * --drain-timeout. Called again, it returns the drain already under way. close() after it.
   */
  drain (opts?: Partial<DrainOptions>): Promise<DrainResult>
  /** settles when a drain, started from anywhere (drain(), POST /drain), has ended */
  readonly drained: Promise<DrainResult>
  /** every store link up (false during a Redis failover's stall): Fleetgate.storeReachable */
  storeReachable (): boolean
  close (): Promise<void>
}

export interface StartOptions {
  readonly logger?: AuditLogger
  readonly env?: NodeJS.ProcessEnv
  /** the user's own hooks, run after fleetgate's */
  readonly hooks?: HookSet
  /** the user's own parts and stores (parts.stores: revocations, registry, owners) */
  readonly parts?: FleetgateParts
  /** the user's own session backend (its `persistence` goes to Aedes); default: chosen with the other stores */
  readonly sessions?: SessionBackend
  /** false: no metrics/admin port even with config.metricsPort (a worker of `serve --workers`: its primary serves it) */
  readonly admin?: boolean
}

export async function startBroker (input: ConfigInput = {}, opts: StartOptions = {}): Promise<RunningBroker> {
  const config = resolveConfig(input, opts.env ?? {})
  const log = opts.logger ?? createAuditLogger({ level: config.logLevel })
  // with --dev, a missing dev PKI stops here, before any store is opened (it is never made here)
  checkDevPki(config)
  // With Redis the sessions are shared by every node, and so is who owns each clientId.
  const givenOwners = opts.parts?.stores?.owners ?? opts.parts?.owners
  const owners = givenOwners ?? await openStore('owner', OWNER_STORES, config, storeContext(log))
  // Cluster mode: sessions and pub/sub in Redis, shared by every node.
  const cluster = config.redis ? clusterParts(config.redis, log) : undefined
  let fleetgate: Fleetgate
  try {
    fleetgate = await createFleetgate(config, { logger: log }, { countUnreleasedQos2: cluster?.countUnreleasedQos2, ...opts.parts, stores: { ...opts.parts?.stores, owners } })
  } catch (err) { if (givenOwners === undefined) await owners.close(); cluster?.disconnect(); throw err }
  const sessionStore = createSessionStore({
    maxOfflineMessages: config.maxOfflineMessages,
    sessionExpiry: config.sessionExpiry,
    redisPrefix: config.redisPrefix,
    log,
    decisions: fleetgate.metrics.decisions,
    redis: cluster ? { conn: cluster.persistenceConn, persistence: cluster.persistence as object } : undefined,
    backend: opts.sessions ?? backendOf(config),
  })
  // an expired session takes its clientId's owner record with it (once, on the node that removed it)
  // (unless the owner claimed it again since: it is back, and the record is its own)
  sessionStore.onExpired(async (clientId) => { await fleetgate.owners.forget(clientId, Date.now() - config.sessionExpiry) })
  const broker = await Aedes.createBroker({
    ...composeHooks(fleetgate.hooks, opts.hooks),
    persistence: sessionStore.persistence,
    // fleetgate's emitter in both modes: Aedes' default one overflows the stack under a flood (src/cluster/mq.ts)
    mq: cluster ? cluster.mq : createMq(),
    connectTimeout: config.connectTimeout,
    maxTopicLevels: config.maxTopicLevels,
    maxInflightInbound: config.maxInflightQos2,
    // a backstop behind fleetgate's --slow-consumer-timeout (see fleetgate.attach)
    drainTimeout: 2 * config.slowConsumerTimeout,
  })
  fleetgate.attach(broker)
  sessionStore.attach(broker)
  if (cluster) {
    fleetgate.watchStore(cluster.reachable)
    // after a failover, what other nodes published while this one was not subscribed is in the queues
    cluster.onResubscribed(() => { void sessionStore.resyncLive('pubsub_resubscribed') })
  }
  const server = createServer(fleetgate.tlsOptions(), fleetgate.connectionHandler(broker))
  fleetgate.attachServer(server)
  server.on('tlsClientError', (err, socket) => {
    log.info({ evt: 'tls.deny', remote: fleetgate.remoteOf(socket), err: err.message }, 'TLS handshake refused')
  })
  let metrics: MetricsServer | undefined
  let closing: Promise<void> | undefined
  // one way down, for close() and for a start that fails past this point (nothing left open)
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await metrics?.close()
      await sessionStore.close()
      await new Promise<void>((resolve) => { server.close(() => resolve()); for (const c of Object.values(clientsOf(broker))) c.conn.destroy() })
      // bounded: with Redis gone, the cluster links would wait for it forever
      await closeBroker(broker)
      cluster?.disconnect()
      await fleetgate.close()
    })()
    return closing
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(fgError('FG_ERR_LISTEN', `--port ${config.port}: ${err.code ?? err.message}`))
      server.once('error', onError)
      server.listen(config.port, config.host, () => { server.off('error', onError); resolve() })
    })
  } catch (err) { await close(); throw err }
  const port = (server.address() as AddressInfo).port
  let draining: Promise<DrainResult> | undefined
  let drainEnded!: (r: DrainResult) => void
  const drained = new Promise<DrainResult>((resolve) => { drainEnded = resolve })
  const readiness = (): Readiness => {
    const storeUp = fleetgate.revocations.healthy()
    // the cluster's own Redis links (sessions, emitter): no --revocation-fail-open for them, a
    // connect that cannot claim its clientId is refused (session_store_unavailable)
    const clusterUp = cluster === undefined || cluster.reachable()
    const checks = {
      listener: server.listening ? 'up' : 'closed',
      pki: fleetgate.pkiState(),
      store: storeUp ? 'reachable' : config.revocationFailOpen ? 'unreachable (failing open)' : 'unreachable (failing closed)',
      ...(cluster ? { cluster: clusterUp ? 'reachable' : 'unreachable (failing closed)' } : {}),
      draining: draining !== undefined,
      sessions: fleetgate.sessions.size,
    }
    const ready = checks.listener === 'up' && checks.pki === 'loaded' && (storeUp || config.revocationFailOpen) && clusterUp && !checks.draining
    return { ready, checks }
  }
  const drain = (opts: Partial<DrainOptions> = {}): Promise<DrainResult> => {
    draining ??= drainNode({ server, sessions: fleetgate.sessions, log, decisions: fleetgate.metrics.decisions, connections: fleetgate.connections, stopAdmitting: fleetgate.stopAdmitting },
      { rate: opts.rate ?? config.drainRate, timeout: opts.timeout ?? config.drainTimeout })
    void draining.then(drainEnded)
    return draining
  }
  if (config.metricsPort !== undefined && opts.admin !== false) {
    const admin = { readiness, drain: () => { void drain(); return readiness() } }
    try { metrics = await serveMetrics(fleetgate.metrics.registry, config.metricsPort, config.metricsHost, admin) } catch (err) { await close(); throw err }
  }
  log.info({ evt: 'broker.listening', port, host: config.host, roles: fleetgate.policy.roles }, 'fleetgate listening')
  return {
    config, port, server, broker, fleetgate, metrics, sessionStore,
    readiness,
    drain,
    drained,
    storeReachable: () => fleetgate.storeReachable(),
    reload () {
      const r = fleetgate.reload()
      // New connections get the new certificate and trust bundle; live ones keep theirs.
      if (r.ok) server.setSecureContext(fleetgate.tlsOptions())
      return r
    },
    close,
  }
}
