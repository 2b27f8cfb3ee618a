// `fleetgate provisioner`: the provisioning service as an MQTT client of the
// broker, and the only process holding the issuing CA's key. It subscribes
// to both request filters at QoS 1, answers at QoS 1, not retained, watches
// the store for first_connect, and sweeps the grace period. Persistent
// session (clean: false): requests published while it restarts are queued by
// the broker, not lost (with aedes-persistence-redis this needed the fix in
// src/cluster/coalesce.ts).
import { parseBrokerUrl } from '../client/broker-url.js'
import { mqttsOptions } from '../client/mqtts-options.js'
import { parseCertificate } from '../identity/index.js'
import mqtt, { type MqttClient } from 'mqtt'
import type { AuditLogger } from '../audit/index.js'
import { fgError } from '../contract/errors.js'
import { closeStores, DEFAULT_PREFIX, openStores, type DeviceRegistry, type RevocationStore } from '../stores/index.js'
import { readPrivateKey, readTextFile, parsePemCertificates } from '../pki/pem.js'
import { readCaKeyPair } from '../pki/ca-key.js'
import { fastIssuerFor, type FastIssuer } from './issuer.js'
import { REQUEST_FILTERS } from './messages.js'
import { ProvisioningService, type RateLimit } from './service.js'
import type { ProvisionerState } from './state.js'
import { PROVISIONER_STORES, type ProvisionerStores } from './stores.js'

export const DEFAULT_LIFETIME_MS = 30 * 86_400_000
export const DEFAULT_GRACE_MS = 86_400_000
export const DEFAULT_RATE_LIMIT: RateLimit = { count: 10, windowMs: 3_600_000 }

export interface ProvisionerConfig {
  /** mqtts://host:port */
  readonly url: string
  /** the fleet root (trust anchor for the broker's certificate) */
  readonly ca: string
  /** this provisioner's client certificate chain (OU=provisioner) and key */
  readonly cert: string
  readonly key: string
  /** the issuing CA certificate and key (PKCS#8 or SEC1 PEM) */
  readonly issuerCert: string
  readonly issuerKey: string
  readonly redis?: string
  /** the revocation schema's prefix, as the broker's --redis-prefix (default fleetgate:) */
  readonly redisPrefix?: string
  readonly dataDir: string
  /** bound on each store call; default 5 s */
  readonly revocationTimeout?: number
  /** replicas that must confirm each certificate state change (as --redis-min-replicas) */
  readonly redisMinReplicas?: number
  readonly redisReplicaTimeout?: number
  readonly lifetimeMs: number
  readonly graceMs: number
  readonly rateLimit: RateLimit
  /** clientId = CN, or CN-<suffix> when several run at once */
  readonly clientIdSuffix?: string
  /** MQTT clean session: true for a provisioner that runs for a while only (sim attack); default false (requests queue while it restarts) */
  readonly cleanSession?: boolean
  readonly log: AuditLogger
  /** the caller's own stores, used instead of opening them from redis / dataDir (closed by close()) */
  readonly stores?: Partial<ProvisionerStores>
}

export interface RunningProvisioner {
  readonly clientId: string
  readonly service: ProvisioningService
  readonly client: MqttClient
  /** the revocation store it writes */
  readonly store: RevocationStore
  readonly registry: DeviceRegistry
  readonly state: ProvisionerState
  close (): Promise<void>
}

function commonNameOf (certPem: string, source: string): string {
  const cn = parseCertificate(parsePemCertificates(certPem, source)[0]!).subject.CN?.[0]
  if (cn === undefined) throw fgError('FG_ERR_PKI_INVALID', `--cert ${source}: the certificate has no CN`)
  return cn
}

/** load the issuing CA once (the key never leaves this process and is never logged) */
export function loadIssuer (certPath: string, keyPath: string): FastIssuer {
  return fastIssuerFor(readCaKeyPair(certPath, keyPath, { cert: '--issuer-cert', key: '--issuer-key' }))
}

export async function startProvisioner (cfg: ProvisionerConfig): Promise<RunningProvisioner> {
  const issuer = loadIssuer(cfg.issuerCert, cfg.issuerKey)
  const caPem = readTextFile(cfg.ca)
  const certPem = readTextFile(cfg.cert)
  const keyPem = readTextFile(cfg.key)
  readPrivateKey(cfg.key) // a clear one-line error now rather than a TLS failure later
  const cn = commonNameOf(certPem, cfg.cert)
  const clientId = cfg.clientIdSuffix ? `${cn}-${cfg.clientIdSuffix}` : cn
  const addr = parseBrokerUrl(cfg.url)
  const log = cfg.log.child({ component: 'provisioner' })

  const choice = {
    redis: cfg.redis, redisPrefix: cfg.redisPrefix ?? DEFAULT_PREFIX, dataDir: cfg.dataDir, revocationTimeout: cfg.revocationTimeout ?? 5000,
    redisMinReplicas: cfg.redisMinReplicas, redisReplicaTimeout: cfg.redisReplicaTimeout,
  }
  const stores = await openStores(choice, PROVISIONER_STORES, { log, given: cfg.stores })
  const { revocations: store, registry, state } = stores
  const closeAll = () => closeStores([state, registry, store])

  const client = mqtt.connect(mqttsOptions(addr, { ca: caPem, cert: certPem, key: keyPem }, {
    // persistent session: requests published while the provisioner reconnects are queued, not lost
    clientId, clean: cfg.cleanSession === true, keepalive: 30, reconnectPeriod: 1000, connectTimeout: 10_000,
  }))
  const service = new ProvisioningService({
    issuer, revocations: store, registry, state, log,
    lifetimeMs: cfg.lifetimeMs,
    graceMs: cfg.graceMs,
    rateLimit: cfg.rateLimit,
    publish: async (topic, payload) => { await client.publishAsync(topic, payload, { qos: 1, retain: false }) },
  })

  const fail = (what: string) => (err: unknown) => log.error({ evt: 'provision.error', what, err: (err as Error)?.message ?? String(err) }, 'provisioner error')
  client.on('message', (topic, payload) => { service.handle(topic, payload).catch(fail('request')) })
  client.on('error', (err) => log.warn({ evt: 'provision.mqtt_error', err: err.message }, 'MQTT error'))
  let subscribed: () => void = () => {}
  const ready = new Promise<void>((resolve) => { subscribed = resolve })
  client.on('connect', () => {
    // subscribe again on every (re)connect (harmless with a persistent session); ready once the broker granted both filters
    client.subscribe([...REQUEST_FILTERS], { qos: 1 }, (err, granted) => {
      if (err || granted?.some((g) => g.qos === 128)) return fail('subscribe')(err ?? new Error('request filters refused by the broker policy'))
      log.info({ evt: 'provision.connected', clientId, url: cfg.url }, 'provisioner connected and subscribed')
      subscribed()
    })
  })

  await registry.watch((e) => {
    if (e.kind === 'first_connect') service.onFirstConnect(e.vin, e.fingerprint).catch(fail('first_connect'))
  })
  // the grace sweep: often enough that a short demo grace is honoured, at most once a minute
  const sweepMs = Math.min(60_000, Math.max(1000, Math.floor(cfg.graceMs / 4)))
  const sweeper = setInterval(() => { service.sweep().catch(fail('sweep')) }, sweepMs)
  sweeper.unref()

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(fgError('FG_ERR_PROVISIONER_CONNECT', `--url ${cfg.url}: not connected and subscribed within 15 s (broker down, or it refused this certificate)`)), 15_000)
    ready.then(() => { clearTimeout(timer); resolve() }, () => {})
  }).catch(async (err) => {
    clearInterval(sweeper); client.end(true); await closeAll(); throw err
  })

  let closing: Promise<void> | undefined
  return {
    clientId, service, client, store, registry, state,
    close () {
      closing ??= (async () => {
        clearInterval(sweeper)
        await client.endAsync(false).catch(() => client.end(true))
        await closeAll()
      })()
      return closing
    },
  }
}

/** "10/h", "100/1d", "5/30m": count per window */
export function parseRateLimit (text: string, parseDuration: (t: string) => number | null): RateLimit | null {
  const m = /^\s*(\d+)\s*\/\s*(\d*(?:\.\d+)?\s*(?:ms|s|m|h|d))\s*$/.exec(text)
  if (m === null) return null
  const count = Number(m[1])
  const unit = /^\d/.test(m[2]!) ? m[2]! : `1${m[2]!}`
  const windowMs = parseDuration(unit)
  if (!Number.isInteger(count) || count < 1 || windowMs === null || windowMs <= 0) return null
  return { count, windowMs }
}

