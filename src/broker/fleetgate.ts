// createFleetgate: the plugin. Validated config, loaded TLS material and policy,
// the Aedes hooks, the TLS server options and the connection handler.
import type { TLSSocket, TlsOptions } from 'node:tls'
import { join } from 'node:path'
import type { Aedes, Client } from 'aedes'
import { resolveConfig, type Config, type ConfigInput } from '../config/index.js'
import { createAuditLogger, type AuditLogger } from '../audit/index.js'
import { loadTlsMaterial, peerChainDer, tlsServerOptions, type LoadedTlsMaterial } from '../tls/index.js'
import { IdentityCache } from '../identity/index.js'
import { loadPolicyFile, defaultPolicyPath, type Policy } from '../policy/index.js'
import { SessionRegistry, type ConnectionInfo } from './session.js'
import { createHooks, type ConnectCheck, type DecisionCounter, type FleetgateHooks, type PublishCheck } from './hooks.js'

export interface FleetgateOptions {
  /** audit logger; default: pino to stdout at config.logLevel */
  readonly logger?: AuditLogger
  /** environment to read FLEETGATE_* variables from; default: none (library) */
  readonly env?: NodeJS.ProcessEnv
  readonly decisions?: DecisionCounter
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
  close (): Promise<void>
}

export function tlsPaths (config: Config): { ca: string; cert: string; key: string } {
  if (config.ca && config.cert && config.key) return { ca: config.ca, cert: config.cert, key: config.key }
  return { ca: join(config.devPki, 'root-ca.pem'), cert: join(config.devPki, 'broker', 'cert.pem'), key: join(config.devPki, 'broker', 'key.pem') }
}

export interface FleetgateParts {
  connectChecks?: ConnectCheck[]
  publishChecks?: PublishCheck[]
}

export async function createFleetgate (input: ConfigInput | Config = {}, options: FleetgateOptions = {}, parts: FleetgateParts = {}): Promise<Fleetgate> {
  const config = resolveConfig(input as ConfigInput, options.env ?? {})
  const log = options.logger ?? createAuditLogger({ level: config.logLevel })
  const material: LoadedTlsMaterial = loadTlsMaterial(tlsPaths(config))
  const policy = loadPolicyFile(config.policy ?? defaultPolicyPath)
  const sessions = new SessionRegistry()
  const identities = new IdentityCache()
  const connections = new WeakMap<object, ConnectionInfo>()

  function describe (socket: TLSSocket): ConnectionInfo {
    const remote = socket.remoteAddress
    try {
      const chain = peerChainDer(socket)
      if (chain.length === 0) return { identity: null, remote }
      const { identity, check } = identities.fromChain(chain)
      return check.ok ? { identity, remote } : { identity, remote, refusal: { reason: check.reason, detail: check.detail } }
    } catch (err) {
      // An unparseable certificate is refused, never half-trusted.
      return { identity: null, remote, refusal: { reason: 'no_client_auth', detail: 'certificate cannot be parsed' } }
    }
  }

  const hooks = createHooks({
    policy: () => policy,
    connection: (client: Client) => {
      const conn = client.conn as object
      let info = connections.get(conn)
      // A user may hand the TLSSocket to broker.handle directly.
      if (!info && typeof (conn as TLSSocket).getPeerCertificate === 'function') {
        info = describe(conn as TLSSocket)
        connections.set(conn, info)
      }
      return info
    },
    sessions,
    log,
    connectChecks: parts.connectChecks ?? [],
    publishChecks: parts.publishChecks ?? [],
    keepaliveMaxSeconds: Math.floor(config.keepaliveMax / 1000),
    decisions: options.decisions,
  })

  return {
    config,
    hooks,
    log,
    sessions,
    policy,
    tlsOptions: () => tlsServerOptions(material, config.handshakeTimeout),
    connectionHandler (broker: Aedes) {
      return function fleetgateConnection (socket: TLSSocket) {
        connections.set(socket, describe(socket))
        broker.handle(socket)
      }
    },
    attach (broker: Aedes) {
      ;(broker as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log.error({ evt: 'broker.error', err: err.message }, 'broker error'))
      broker.on('connectionError', (client: Client, err: Error) => {
        if (/connect did not arrive in time/.test(err.message)) {
          log.warn({ evt: 'stream.deny', reason: 'connect_timeout', remote: connections.get(client.conn as object)?.remote }, 'no CONNECT in time')
          options.decisions?.inc('stream.deny', 'connect_timeout')
        }
      })
    },
    async close () { identities.clear() },
  }
}
