// `fleetgate provisioner`: the provisioning service (README "Command line").
import { Option } from 'commander'
import { durationFlag, newCommand, untilStopped } from './program.js'
import { addStoreOptions, resolveStoreChoice, type StoreFlags } from './store-options.js'
import { parseDuration, formatDuration } from '../config/index.js'
import { createAuditLogger } from '../audit/index.js'
import { fgError } from '../contract/errors.js'
import {
  DEFAULT_GRACE_MS, DEFAULT_LIFETIME_MS, DEFAULT_RATE_LIMIT, parseRateLimit, startProvisioner,
} from '../provisioning/provisioner.js'

interface ProvisionerFlags extends StoreFlags {
  url: string; ca: string; cert: string; key: string; issuerCert: string; issuerKey: string
  certLifetime: string; grace: string; rateLimit: string
  clientIdSuffix?: string; logLevel: string
}

function duration (flag: string, text: string, minMs: number): number {
  return durationFlag(flag, text, `expected a duration of at least ${formatDuration(minMs)} (e.g. 30d, 24h, 90s)`, (ms) => ms >= minMs)
}

export function provisionerCommand () {
  const cmd = newCommand('provisioner', 'the provisioning service: answers provisioning and rotation requests over MQTT; the only holder of the issuing CA key')
    .requiredOption('--url <url>', 'broker URL, mqtts://host:port')
    .requiredOption('--ca <pem>', 'the fleet root CA (trust anchor for the broker)')
    .requiredOption('--cert <pem>', 'this provisioner\'s certificate chain (OU=provisioner, leaf + issuing CA)')
    .requiredOption('--key <pem>', 'this provisioner\'s private key')
    .requiredOption('--issuer-cert <pem>', 'the issuing CA certificate')
    .requiredOption('--issuer-key <pem>', 'the issuing CA private key (PKCS#8 or SEC1 PEM)')
    .option('--cert-lifetime <duration>', 'lifetime of an issued certificate', formatDuration(DEFAULT_LIFETIME_MS))
    .option('--grace <duration>', 'a rotated-out certificate is revoked after this long even if the new one never connects', formatDuration(DEFAULT_GRACE_MS))
    .option('--rate-limit <n/window>', 'requests per VIN per window, counted apart for provisioning (birth certificate) and rotation; only requests that pass the CSR checks count', `${DEFAULT_RATE_LIMIT.count}/h`)
    .option('--client-id-suffix <suffix>', 'clientId = <CN>-<suffix>, when several provisioners run at once')
    .addOption(new Option('--log-level <level>', 'audit log level').default('info').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  // the store options of `serve` (--redis, --redis-prefix, --data-dir, --revocation-timeout): it must write where the broker reads
  addStoreOptions(cmd)
  cmd.action(async (opts: ProvisionerFlags) => {
    const lifetimeMs = duration('--cert-lifetime', opts.certLifetime, 10_000)
    const graceMs = duration('--grace', opts.grace, 1000)
    const rateLimit = parseRateLimit(opts.rateLimit, parseDuration)
    if (rateLimit === null) throw fgError('FG_ERR_CONFIG_INVALID', `--rate-limit ${opts.rateLimit}: expected <count>/<window>, e.g. 10/h or 100/1d`)
    if (opts.clientIdSuffix !== undefined && !/^[A-Za-z0-9._-]{1,32}$/.test(opts.clientIdSuffix)) {
      throw fgError('FG_ERR_CONFIG_INVALID', `--client-id-suffix ${opts.clientIdSuffix}: 1-32 characters of A-Z a-z 0-9 . _ -`)
    }
    const store = resolveStoreChoice(opts)
    const log = createAuditLogger({ level: opts.logLevel as 'info' })
    const running = await startProvisioner({
      url: opts.url, ca: opts.ca, cert: opts.cert, key: opts.key, issuerCert: opts.issuerCert, issuerKey: opts.issuerKey,
      redis: store.redis, redisPrefix: store.redisPrefix, dataDir: store.dataDir, revocationTimeout: store.revocationTimeout,
      redisMinReplicas: store.redisMinReplicas, redisReplicaTimeout: store.redisReplicaTimeout,
      lifetimeMs, graceMs, rateLimit, clientIdSuffix: opts.clientIdSuffix, log,
    })
    process.stderr.write(`fleetgate provisioner: ${running.clientId} on ${opts.url} (${store.where}; ` +
      `lifetime ${formatDuration(lifetimeMs)}, grace ${formatDuration(graceMs)}, ${rateLimit.count} per VIN per ${formatDuration(rateLimit.windowMs)})\n`)
    const signal = await untilStopped(undefined)
    process.stderr.write(`fleetgate provisioner: ${signal}, closing\n`)
    await running.close().catch(() => {})
  })
  return cmd
}
