// `fleetgate revoke`: write a revocation to the store and announce it, so every
// broker node closes the certificate's live sessions at once.
import type { Command } from 'commander'
import { X509Certificate } from 'node:crypto'
import { newCommand, addOptions } from './program.js'
import { resolveConfig, type ConfigInput } from '../config/index.js'
import { fgError } from '../errors.js'
import { normaliseSerial } from '../identity/index.js'
import { readPemCertificates } from '../pki/pem.js'
import {
  REVOCATION_REASONS, normaliseFingerprint, openRevocationStore, redactUrl, type RevocationStore, type RevocationTarget,
} from '../revocation/index.js'
import { sha256Hex } from '../identity/index.js'

type StoreFlags = Pick<ConfigInput, 'redis' | 'redisPrefix' | 'dataDir' | 'revocationTimeout'>

/** --redis / --data-dir / --redis-prefix, with the same env variables and defaults as `serve` */
export function addStoreOptions (cmd: Command): Command {
  return addOptions(cmd, ['redis', 'redisPrefix', 'dataDir', 'revocationTimeout'])
}

/** The store `serve` would use with these flags and environment. */
export async function openCliStore (flags: StoreFlags): Promise<{ store: RevocationStore; where: string }> {
  if (flags.redis !== undefined && flags.dataDir !== undefined) throw fgError('FG_ERR_USAGE', 'give --redis <url> or --data-dir <dir>, not both')
  const given: ConfigInput = { redis: flags.redis, redisPrefix: flags.redisPrefix, dataDir: flags.dataDir, revocationTimeout: flags.revocationTimeout ?? '5s' }
  // --data-dir chooses the file store even when REDIS_URL is set in the environment
  const env = flags.dataDir !== undefined ? { ...process.env, REDIS_URL: undefined } : process.env
  const config = resolveConfig(given, env)
  const store = await openRevocationStore(config)
  const where = config.redis ? `redis ${redactUrl(config.redis)} (prefix ${config.redisPrefix})` : `file ${config.dataDir}`
  return { store, where }
}

export function checkReason (reason: string): string {
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) {
    throw fgError('FG_ERR_CONFIG_INVALID', `--reason ${reason}: expected one of ${REVOCATION_REASONS.join(', ')}`)
  }
  return reason
}

interface RevokeFlags extends StoreFlags { cert?: string; fingerprint?: string; issuer?: string; serial?: string; reason: string }

/** The targets named by the flags, and a description of each for the report. */
export function revokeTargets (flags: RevokeFlags): Array<{ target: RevocationTarget; what: string }> {
  const modes = [flags.cert !== undefined, flags.fingerprint !== undefined, flags.issuer !== undefined || flags.serial !== undefined].filter(Boolean).length
  if (modes !== 1) throw fgError('FG_ERR_USAGE', 'give exactly one of --cert <pem>, --fingerprint <hex>, or --issuer <pem> with --serial <hex>')
  if (flags.cert !== undefined) {
    const ders = readPemCertificates(flags.cert)
    const leaf = new X509Certificate(ders[0]!)
    const fp = sha256Hex(ders[0]!)
    const out = [{ target: { fingerprint: fp } as RevocationTarget, what: `certificate ${leaf.subject.replace(/\n/g, ', ')} serial ${normaliseSerial(leaf.serialNumber)} fingerprint ${fp}` }]
    // The file's next certificate, when it issued the leaf, lets us revoke by issuer + serial too.
    const issuer = ders[1] ? new X509Certificate(ders[1]) : null
    if (issuer && leaf.checkIssued(issuer)) {
      out.push({ target: { issuer: sha256Hex(ders[1]!), serial: normaliseSerial(leaf.serialNumber)! }, what: `serial ${normaliseSerial(leaf.serialNumber)} of issuer ${issuer.subject.replace(/\n/g, ', ')}` })
    }
    return out
  }
  if (flags.fingerprint !== undefined) {
    const fp = normaliseFingerprint(flags.fingerprint)
    if (!fp) throw fgError('FG_ERR_CONFIG_INVALID', `--fingerprint ${flags.fingerprint}: expected 64 hex digits (SHA-256 of the certificate DER)`)
    return [{ target: { fingerprint: fp }, what: `fingerprint ${fp}` }]
  }
  if (flags.issuer === undefined || flags.serial === undefined) throw fgError('FG_ERR_USAGE', '--issuer <pem> and --serial <hex> go together')
  const serial = normaliseSerial(flags.serial)
  if (!serial) throw fgError('FG_ERR_CONFIG_INVALID', `--serial ${flags.serial}: expected a hex serial (e.g. 0A:BC, 0x0abc, 0ABC)`)
  const ders = readPemCertificates(flags.issuer)
  const issuer = new X509Certificate(ders[0]!)
  const issuerFp = sha256Hex(ders[0]!)
  return [{ target: { issuer: issuerFp, serial }, what: `serial ${serial} of issuer ${issuer.subject.replace(/\n/g, ', ')} (${issuerFp})` }]
}

export function revokeCommand (): Command {
  const cmd = newCommand('revoke', 'revoke a certificate (or a CA): every broker node refuses it and closes its live sessions at once')
    .option('--cert <pem>', 'the certificate (PEM; leaf first, then its issuer if present)')
    .option('--fingerprint <hex>', 'SHA-256 fingerprint of the certificate DER')
    .option('--issuer <pem>', 'the issuing CA certificate (with --serial)')
    .option('--serial <hex>', 'serial number as openssl prints it (0A:BC, 0ABC or 0x0abc)')
    .option('--reason <reason>', `CRL reason (${REVOCATION_REASONS.join(', ')})`, 'unspecified')
  addStoreOptions(cmd)
  cmd.action(async (flags: RevokeFlags) => {
    const reason = checkReason(flags.reason)
    const targets = revokeTargets(flags)
    const { store, where } = await openCliStore(flags)
    try {
      const revokedAt = new Date().toISOString()
      await store.revoke(targets.map((t) => t.target), { reason, revokedAt })
      for (const t of targets) process.stdout.write(`revoked ${t.what} (reason ${reason}, at ${revokedAt}) in ${where}\n`)
    } finally {
      await store.close()
    }
  })
  return cmd
}

