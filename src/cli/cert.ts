// `fleetgate cert deactivate|quarantine|activate|history`: a certificate's
// reversible state (README "Certificate states") and its operator log
// (README "Operator log"). The targets are named as for `fleetgate revoke`.
import type { Command } from 'commander'
import { newCommand } from './program.js'
import { addStoreOptions, openCliStores, type StoreFlags } from './store-options.js'
import { revokeTargets } from './revoke.js'
import { BY_HELP, freeText, operatorName } from './operator.js'
import { fgError } from '../contract/errors.js'
import { normaliseSerial } from '../identity/index.js'
import { REVOCATION_STORES, certificateHistory, describeTarget, normaliseFingerprint, setCertificateState, type CertState, type OperatorLogEntry } from '../revocation/index.js'

interface StateFlags extends StoreFlags { cert?: string; fingerprint?: string; issuer?: string; serial?: string; by?: string; reason?: string; note?: string }

const VERBS: ReadonlyArray<{ name: string; state: CertState; what: string }> = [
  { name: 'deactivate', state: 'inactive', what: 'make a certificate inactive (reversible): every broker node refuses it (cert_inactive) and closes its live sessions at once' },
  { name: 'quarantine', state: 'quarantined', what: 'quarantine a certificate (reversible): its live sessions, and its connects, are judged under the policy\'s quarantine role on every node at once' },
  { name: 'activate', state: 'active', what: 'make an inactive or quarantined certificate active again (a revoked one cannot be: exit 2)' },
]

function stateCommand (verb: typeof VERBS[number]): Command {
  const cmd = newCommand(verb.name, verb.what)
    .option('--cert <pem>', 'the certificate (PEM; leaf first, then its issuer if present)')
    .option('--fingerprint <hex>', 'SHA-256 fingerprint of the certificate DER')
    .option('--issuer <pem>', 'the issuing CA certificate (with --serial)')
    .option('--serial <hex>', 'serial number as openssl prints it (0A:BC, 0ABC or 0x0abc)')
    .option('--by <name>', BY_HELP)
    .option('--reason <text>', 'why, for the operator log', 'unspecified')
    .option('--note <text>', 'a free-text note for the operator log')
  addStoreOptions(cmd)
  cmd.action(async (flags: StateFlags) => {
    const targets = revokeTargets(flags)
    const by = operatorName(flags.by)
    const reason = freeText('--reason', flags.reason) || 'unspecified'
    const note = freeText('--note', flags.note)
    const { stores, where, close } = await openCliStores(flags, { revocations: REVOCATION_STORES })
    try {
      const at = new Date().toISOString()
      await setCertificateState(stores.revocations, targets.map((t) => t.target), { state: verb.state, by, reason, at, ...(note ? { note } : {}) })
      for (const t of targets) process.stdout.write(`${verb.state} ${t.what} (by ${by}, reason ${reason}, at ${at}) in ${where}\n`)
    } finally {
      await close()
    }
  })
  return cmd
}

/** the argument of `cert history`: a SHA-256 fingerprint (64 hex digits) or a serial */
export function historyMatch (text: string): { fingerprint: string } | { serial: string } {
  const fingerprint = normaliseFingerprint(text)
  if (fingerprint) return { fingerprint }
  const serial = normaliseSerial(text)
  if (serial) return { serial }
  throw fgError('FG_ERR_CONFIG_INVALID', `${text}: expected a certificate fingerprint (64 hex digits) or a serial (hex)`)
}

function row (e: OperatorLogEntry): string[] {
  return [e.at, e.by || '-', e.action, describeTarget(e.target), e.reason || '-', e.note || '-']
}

function table (rows: string[][]): string {
  const head = ['WHEN', 'BY', 'ACTION', 'TARGET', 'REASON', 'NOTE']
  const all = [head, ...rows]
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)))
  return all.map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join('  ')).join('\n') + '\n'
}

function historyCommand (): Command {
  const cmd = newCommand('history', 'the operator log of a certificate: every revocation and state change naming it, with who, when and why, oldest first')
    .argument('<serial|fingerprint>', 'the certificate\'s serial (hex, any issuer) or SHA-256 fingerprint')
    .option('--json', 'one JSON object per line')
  addStoreOptions(cmd)
  cmd.action(async (what: string, flags: StoreFlags & { json?: boolean }) => {
    const match = historyMatch(what)
    const { stores, where, close } = await openCliStores(flags, { revocations: REVOCATION_STORES })
    try {
      const entries = await certificateHistory(stores.revocations, match)
      if (flags.json) for (const e of entries) process.stdout.write(JSON.stringify(e) + '\n')
      else if (entries.length > 0) process.stdout.write(table(entries.map(row)))
      process.stderr.write(`${entries.length} operator log entr${entries.length === 1 ? 'y' : 'ies'} in ${where}\n`)
    } finally {
      await close()
    }
  })
  return cmd
}

export function certCommand (): Command {
  const cmd = newCommand('cert', 'a certificate\'s reversible state (active, inactive, quarantined) and its operator log')
  for (const v of VERBS) cmd.addCommand(stateCommand(v))
  cmd.addCommand(historyCommand())
  return cmd
}
