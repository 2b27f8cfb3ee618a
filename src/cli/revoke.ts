// `fleetgate revoke`: write a revocation to the store and announce it, so every
// broker node closes the certificate's live sessions at once.
import type { Command } from 'commander'
import { X509Certificate } from 'node:crypto'
import { newCommand, ExitCode } from './program.js'
import { addStoreOptions, openCliStores, type StoreFlags } from './store-options.js'
import { fgError } from '../contract/errors.js'
import { normaliseSerial } from '../identity/index.js'
import { readPemCertificates } from '../pki/pem.js'
import { isVin } from '../pki/vin.js'
import { REGISTRY_STORES, REVOCATION_REASONS, REVOCATION_STORES, normaliseFingerprint, revokeVehicle, type RevocationTarget } from '../revocation/index.js'
import { sha256Hex } from '../identity/index.js'
import { BY_HELP, freeText, operatorName } from './operator.js'

export function checkReason (reason: string): string {
  if (!(REVOCATION_REASONS as readonly string[]).includes(reason)) {
    throw fgError('FG_ERR_CONFIG_INVALID', `--reason ${reason}: expected one of ${REVOCATION_REASONS.join(', ')}`)
  }
  return reason
}

interface RevokeFlags extends StoreFlags { cert?: string; fingerprint?: string; issuer?: string; serial?: string; vin?: string; reason: string; by?: string; note?: string }

const ONE_MODE = 'give exactly one of --cert <pem>, --fingerprint <hex>, --issuer <pem> with --serial <hex>, or --vin <VIN>'

/** the --vin flag checked: exactly this mode, a VIN */
function vinFlag (flags: RevokeFlags): string {
  if (flags.cert !== undefined || flags.fingerprint !== undefined || flags.issuer !== undefined || flags.serial !== undefined) throw fgError('FG_ERR_USAGE', ONE_MODE)
  if (!isVin(flags.vin!)) throw fgError('FG_ERR_CONFIG_INVALID', `--vin ${flags.vin}: not a VIN (17 characters, no I, O or Q)`)
  return flags.vin!
}

/** The targets named by the flags, and a description of each for the report. */
export function revokeTargets (flags: Pick<RevokeFlags, 'cert' | 'fingerprint' | 'issuer' | 'serial' | 'vin'> & { reason?: string }): Array<{ target: RevocationTarget; what: string }> {
  const modes = [flags.cert !== undefined, flags.fingerprint !== undefined, flags.issuer !== undefined || flags.serial !== undefined].filter(Boolean).length
  if (modes !== 1 || flags.vin !== undefined) throw fgError('FG_ERR_USAGE', ONE_MODE)
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
  const cmd = newCommand('revoke', 'revoke a certificate (or a CA, or every certificate of a car): every broker node refuses it and closes its live sessions at once')
    .option('--cert <pem>', 'the certificate (PEM; leaf first, then its issuer if present)')
    .option('--fingerprint <hex>', 'SHA-256 fingerprint of the certificate DER')
    .option('--issuer <pem>', 'the issuing CA certificate (with --serial)')
    .option('--serial <hex>', 'serial number as openssl prints it (0A:BC, 0ABC or 0x0abc)')
    .option('--vin <VIN>', 'every certificate the registry knows for this car (rotation successors included; not its birth certificate)')
    .option('--reason <reason>', `CRL reason (${REVOCATION_REASONS.join(', ')})`, 'unspecified')
    .option('--by <name>', BY_HELP)
    .option('--note <text>', 'a free-text note for the operator log')
  addStoreOptions(cmd)
  cmd.action(async (flags: RevokeFlags) => {
    const reason = checkReason(flags.reason)
    const by = operatorName(flags.by)
    const note = freeText('--note', flags.note)
    if (flags.vin !== undefined) return await revokeCar(vinFlag(flags), reason, flags, by, note)
    const targets = revokeTargets(flags)
    const { stores, where, close } = await openCliStores(flags, { revocations: REVOCATION_STORES })
    try {
      const revokedAt = new Date().toISOString()
      await stores.revocations.revoke(targets.map((t) => t.target), { reason, revokedAt, by, ...(note ? { note } : {}) })
      for (const t of targets) process.stdout.write(`revoked ${t.what} (reason ${reason}, by ${by}, at ${revokedAt}) in ${where}\n`)
    } finally {
      await close()
    }
  })
  return cmd
}


/** `revoke --vin`: exit 1 when the registry knows no certificate of the VIN (a typo, or the wrong store) */
async function revokeCar (vin: string, reason: string, flags: StoreFlags, by: string, note: string): Promise<void> {
  const { stores, where, close } = await openCliStores(flags, { revocations: REVOCATION_STORES, registry: REGISTRY_STORES })
  try {
    const revokedAt = new Date().toISOString()
    const r = await revokeVehicle(stores, vin, { reason, revokedAt, by, ...(note ? { note } : {}) })
    for (const fp of r.revoked) process.stdout.write(`revoked certificate fingerprint ${fp} of VIN ${vin} (reason ${reason}, at ${revokedAt}) in ${where}\n`)
    for (const fp of r.already) process.stdout.write(`already revoked: certificate fingerprint ${fp} of VIN ${vin}\n`)
    if (r.revoked.length === 0 && r.already.length === 0) {
      process.stderr.write(`revoke: the registry in ${where} knows no certificate of VIN ${vin}\n`)
      throw new ExitCode(1)
    }
  } finally {
    await close()
  }
}
