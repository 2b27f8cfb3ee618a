// createFleetgate: the plugin, composed of named parts, each built in its own
// file: config, listener (./listener.ts, ./identities.ts), policy, stores
// (./stores.ts), checks (./revocation.ts, ./publish-checks.ts, ./hooks.ts),
// reload (./reload.ts), the live part on a running broker (./attach.ts), audit
// and metrics.
import type { Server as TlsServer, TLSSocket, TlsOptions } from 'node:tls'
import { X509Certificate } from 'node:crypto'
import type { Socket } from 'node:net'
import type { Aedes, Client } from 'aedes'
import { resolveConfig, type Config, type ConfigInput } from '../config/index.js'
import { createAuditLogger, SampledAudit, type AuditLogger } from '../audit/index.js'
import { loadTlsMaterial, tlsServerOptions, type LoadedTlsMaterial } from '../tls/index.js'
import { loadPolicyFile, type Policy } from '../policy/index.js'
import { createMetrics, type FleetgateMetrics } from '../metrics/index.js'
import type { ReloadResult } from '../reload/index.js'
import { ConnectionLimiter, ExpiryGuard, StoreStall, type RevocationGuard, type SignerRevocationLookup } from '../checks/index.js'
import type { UnreleasedCount } from '../sessions/index.js'
import type { ClientIdOwnerStore, DeviceRegistry, RevocationStore, TicketSecretStore } from '../stores/index.js'
import { SessionRegistry, type ConnectionInfo } from './session.js'
import { createHooks, type ConnectCheck, type DecisionCounter, type FleetgateHooks, type PublishCheck, type SubscribeCheck } from './hooks.js'
import { tlsPaths, policyPath } from './config-files.js'
import { openNodeStores, type FleetgateStores } from './stores.js'
import { ConnectionIdentities } from './identities.js'
import { startRevocationGuard } from './revocation.js'
import { liveSessionsOf } from './end-session.js'
import { composePublishChecks } from './publish-checks.js'
import { reloader } from './reload.js'
import { connectionHandler } from './listener.js'
import { ClientAddresses, installAcceptGate } from './accept.js'
import { attachTo } from './attach.js'
import { openTicketKeys } from './tickets.js'
import { OutageAudit } from './outage.js'

export { tlsPaths, policyPath }

/** the broker certificate (leaf of --cert) against the clock: a node serving an expired one admits no car */
const validity = new WeakMap<LoadedTlsMaterial, { from: number; to: number }>()
function certificateState (material: LoadedTlsMaterial, now: number): string {
  let v = validity.get(material)
  if (v === undefined) {
    const leaf = new X509Certificate(material.certDer[0]!)
    validity.set(material, (v = { from: Date.parse(leaf.validFrom), to: Date.parse(leaf.validTo) }))
  }
  if (now < v.from) return 'broker certificate not yet valid'
  if (now > v.to) return 'broker certificate expired'
  return 'loaded'
}

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
  /** options for tls.createServer: mutual TLS, TLS 1.2+, AEAD, --tls-groups; session tickets with --tls-resumption on */
  tlsOptions (): TlsOptions
  /**
   * What the tls.Server needs beyond its options: the rotating ticket keys (shared
   * by the nodes of a cluster), kept across setSecureContext, and the checks at TCP
   * accept, before TLS (--max-connections, --max-connect-rate, the PROXY header of
   * --proxy-protocol). Call it once, after tls.createServer(fleetgate.tlsOptions(), ...)
   * and before listen; without it tickets are sealed with the key current at
   * tlsOptions(), nothing rotates, nothing is refused at accept, and with
   * --proxy-protocol every connection fails its TLS handshake on the header.
   */
  attachServer (server: TlsServer): void
  /** The client's address of a connection of the attached server: the PROXY header's (--proxy-protocol), else the socket's. */
  remoteOf (socket: Socket): string | undefined
  /** the tls.Server 'secureConnection' listener: identity, then broker.handle */
  connectionHandler (broker: Aedes): (socket: TLSSocket) => void
  /** live work on a running broker ('error' listener, stream events) */
  attach (broker: Aedes): void
  /** TLS connections handed to Aedes and not closed yet (authenticated or not) */
  readonly connections: ReadonlySet<TLSSocket>
  /** a drain began: a TLS handshake that ends from now on is closed before CONNECT (accept.deny, reason draining) */
  stopAdmitting (): void
  /** 'loaded' while the broker's certificate is within its validity, else what is wrong (readiness) */
  pkiState (now?: number): string
  readonly policy: Policy
  readonly metrics: FleetgateMetrics
  /** the revocation store (Redis with config.redis, else the file store under config.dataDir; or parts.stores.revocations) */
  readonly revocations: RevocationStore
  /** the device registry (beside the revocation store; or parts.stores.registry) */
  readonly registry: DeviceRegistry
  /** connect check + live enforcement of revocations */
  readonly revocationGuard: RevocationGuard
  /** ends live sessions whose certificate (or a CA above it) expires; audits cert.expiring at connect */
  readonly expiryGuard: ExpiryGuard<Client>
  /** who owns each clientId (Redis with config.redis, else in memory beside Aedes' sessions) */
  readonly owners: ClientIdOwnerStore
  /**
   * Every store link this node needs to admit a new connect is up: the
   * revocation store answers and its events flow, and each probe added with
   * watchStore (startBroker adds the cluster's links). False during a Redis
   * failover's stall. For a readiness endpoint.
   */
  storeReachable (): boolean
  /** one more thing storeReachable() requires (e.g. the cluster's Redis links) */
  watchStore (probe: () => boolean): void
  /** Re-read TLS material and policy; on success live sessions are re-decided (policy_changed). Nothing changes on failure. */
  reload (): ReloadResult
  close (): Promise<void>
}

export interface FleetgateParts {
  /** run at CONNECT after identity and revocation, before the policy (ARCHITECTURE.md steps 3-4) */
  connectChecks?: ConnectCheck[]
  /** run per PUBLISH after the topic rules, before the signed-command edge check */
  publishChecks?: PublishCheck[]
  /** run per SUBSCRIBE filter the topic rules allowed; a refusal is SUBACK 0x80 for that filter */
  subscribeChecks?: SubscribeCheck[]
  /** the edge command check's signer revocation lookup (--enforce-signed-commands) */
  isSignerRevoked?: SignerRevocationLookup
  /**
   * The caller's own stores, used instead of opening them (any object implementing the
   * port; src/stores). Not given: revocations and registry come from config (Redis with
   * config.redis, else files under config.dataDir), owners are kept in memory beside
   * Aedes' default persistence. All are closed by close().
   */
  stores?: Partial<FleetgateStores>
  /**
   * Who owns each clientId (the same as stores.owners). It must live where Aedes keeps the
   * sessions: the default (in memory) fits Aedes' default persistence; several nodes sharing
   * sessions in Redis need RedisClientIdOwners (startBroker does this with --redis).
   */
  owners?: ClientIdOwnerStore
  /** where TLS ticket secrets come from (default: --tls-ticket-keys file, else Redis with config.redis, else this process) */
  ticketSecrets?: TicketSecretStore
  /** how many unreleased QoS 2 packets Aedes' persistence holds for a clientId (shared stores; default: counted in this process) */
  countUnreleasedQos2?: UnreleasedCount
}

export async function createFleetgate (input: ConfigInput | Config = {}, options: FleetgateOptions = {}, parts: FleetgateParts = {}): Promise<Fleetgate> {
  // Config, audit and metrics: validated once; everything below reads them.
  const config = resolveConfig(input as ConfigInput, options.env ?? {})
  const log = options.logger ?? createAuditLogger({ level: config.logLevel })
  const metrics = options.metrics ?? createMetrics()
  const decisions: DecisionCounter = options.decisions ?? metrics.decisions
  // Listener side: TLS material, per-address admission, the identity of each connection.
  let material: LoadedTlsMaterial = loadTlsMaterial(tlsPaths(config))
  const limiter = new ConnectionLimiter(config.maxConnectionsPerIp)
  const identities = new ConnectionIdentities(material.caDer, material.certDer)
  const handed = new Set<TLSSocket>()
  // At TCP accept: admission control and the PROXY header (./accept.ts).
  const addresses = new ClientAddresses()
  const acceptAudit = new SampledAudit(log)
  let admitting = true
  // Policy and live sessions.
  let policy = loadPolicyFile(policyPath(config))
  const sessions = new SessionRegistry()
  // Stores, then the checks that read them.
  // CRLs and OCSP answers are verified against --ca, --cert's chain and the CAs of verified client chains
  const knownCas = (): Uint8Array[] => [...material.caDer, ...material.certDer.slice(1), ...identities.knownCas()]
  const stores = await openNodeStores(config, log, { ...parts.stores, owners: parts.stores?.owners ?? parts.owners }, knownCas)
  const revocationGuard = await startRevocationGuard(config, stores, sessions, log, decisions, () => policy)
  // Expiry of live sessions: one timer for the earliest notAfter of every session's chain.
  const expiryGuard = new ExpiryGuard<Client>({
    sessions: liveSessionsOf(sessions, decisions), log, warningMs: config.expiryWarning,
    onExpiring: (which) => metrics.certificatesExpiring.inc(which),
  })
  sessions.observe({ added: (client, session) => expiryGuard.track(client, session.identity), removed: (client) => expiryGuard.untrack(client) })
  // TLS resumption: ticket keys shared by the nodes (they change with the trust bundle).
  const tickets = await openTicketKeys(config, material, log, parts.ticketSecrets).catch(async (err: unknown) => {
    expiryGuard.stop()
    await revocationGuard.stop()
    await stores.closeOpened()
    throw err
  })
  // Store outages: one audit line each, not one per refused car (./outage.ts).
  const probes: Array<() => boolean> = []
  const storeReachable = () => stores.revocations.healthy() && probes.every((p) => p())
  const outage = new OutageAudit(log, storeReachable)
  // a Redis failover holds PUBLISHes (no PUBACK) until the store answers again; only
  // a node whose sessions are in Redis (a probe was added) holds them: elsewhere
  // nothing is acknowledged before it is stored
  const stall = new StoreStall(() => probes.length === 0 || storeReachable())
  const publishChecks = composePublishChecks(config, material, parts.isSignerRevoked ?? revocationGuard.signerRevoked, parts.publishChecks, stall.check)
  // The Aedes hooks compose them in the order of ARCHITECTURE.md "The order in which a connection is judged".
  const hooks = createHooks({
    policy: () => policy,
    connection: (client: Client) => identities.of(client),
    isCurrent: (info: ConnectionInfo) => identities.isCurrent(info),
    decided: (client: Client) => identities.forget(client),
    sessions,
    log,
    connectChecks: [revocationGuard.check, ...(parts.connectChecks ?? [])],
    publishChecks: publishChecks.checks,
    subscribeChecks: parts.subscribeChecks ?? [],
    keepaliveMaxSeconds: Math.floor(config.keepaliveMax / 1000),
    decisions,
    owners: stores.owners,
    maxRetainedSize: config.maxRetainedSize,
    outage,
  })
  metrics.track({ sessions: () => sessions.size, connections: () => handed.size })
  const reload = reloader({
    paths: () => ({ tls: tlsPaths(config), policy: policyPath(config) }),
    sessions,
    log,
    decisions,
    apply (newMaterial, newPolicy) {
      material = newMaterial
      identities.retrust(material.caDer, material.certDer)
      tickets?.retrust(material)
      tickets?.reload()
      publishChecks.retrust(material)
      policy = newPolicy
    },
  })

  return {
    config,
    hooks,
    log,
    sessions,
    get policy () { return policy },
    metrics,
    revocations: stores.revocations,
    registry: stores.registry,
    revocationGuard,
    expiryGuard,
    owners: stores.owners,
    storeReachable,
    watchStore: (probe: () => boolean) => { probes.push(probe) },
    reload,
    connections: handed,
    pkiState: (now = Date.now()) => certificateState(material, now),
    tlsOptions: () => tlsServerOptions(material, { handshakeTimeoutMs: config.handshakeTimeout, groups: config.tlsGroups, resumption: tickets?.options }),
    attachServer: (server: TlsServer) => {
      tickets?.install(server)
      installAcceptGate(server, { config, audit: acceptAudit, decisions, addresses })
    },
    remoteOf: (socket: Socket) => addresses.remoteOf(socket),
    connectionHandler: (broker: Aedes) => connectionHandler(broker, { config, log, decisions, limiter, identities, sessions, handed, addresses, admitting: () => admitting, acceptAudit }),
    stopAdmitting: () => { admitting = false },
    attach: (broker: Aedes) => attachTo(broker, { config, log, decisions, sessions, identities, revocationGuard, countUnreleasedQos2: parts.countUnreleasedQos2 }),
    async close () {
      acceptAudit.close()
      outage.stop()
      stall.stop()
      identities.clear()
      expiryGuard.stop()
      await revocationGuard.stop()
      await tickets?.close()
      await stores.close()
    },
  }
}
