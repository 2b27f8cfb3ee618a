// `fleetgate sim attack`: the attack catalogue against a live broker and live
// simulated cars. One line per attack while it runs (stderr), then the table
// (stdout), and --json / --html reports. Exit 0: every attack blocked (or
// skipped with a reason); 1: an attack got through; 3: none got through but
// some could not be judged; 2: a usage or file mistake.
import { writeFileSync } from 'node:fs'
import type { Command } from 'commander'
import {
  addStoreOptions, countFlag, durationFlag, newCommand, openCliStores, resolveStoreChoice, revokeTargets, ExitCode, requireFlags,
} from '../../src/cli/index.js'
import { envOf, fgError, REVOCATION_STORES, type RevocationStore } from '../../src/index.js'
import {
  CATALOGUE, CatalogueNotStarted, renderHtml, renderJson, renderTable, runCatalogue, selectAttacks,
} from '../attack/index.js'
import { safe } from '../index.js'

interface AttackFlags {
  url?: string; pki?: string; quick?: boolean; cars: boolean; json?: string; html?: string; auditLog?: string
  connectTimeoutHint: string; maxConnectionsHint: string; only?: string; list?: boolean
  redis?: string; redisPrefix?: string; dataDir?: string; revocationTimeout?: string
}

function storeGiven (flags: AttackFlags): boolean {
  const env = process.env
  return flags.redis !== undefined || flags.dataDir !== undefined ||
    !!env[envOf('redis')] || !!env[envOf('dataDir')]
}

function writeReport (flag: string, path: string, text: string): void {
  try {
    writeFileSync(path, text)
  } catch (err) {
    throw fgError('FG_ERR_FILE_UNREADABLE', `${flag} ${path}: cannot be written (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}

export function simAttackCommand (): Command {
  const cmd = newCommand('attack', 'run the attack catalogue against a broker and simulated cars; exit non-zero if any attack got through')
    .option('--url <url>', 'broker, mqtts://host:port')
    .option('--pki <dir>', 'the fleet\'s dev PKI directory (fleetgate pki init): attacker material, the victim car, rogue and attack certificates')
    .option('--quick', 'short observation windows, for CI')
    .option('--no-cars', 'start no victim car: the PKI\'s second vehicle already runs (e.g. fleetgate sim car)')
    .option('--json <file>', 'write the report as JSON')
    .option('--html <file>', 'write the report as one self-contained HTML page')
    .option('--audit-log <file>', 'the broker\'s JSON audit log (fleetgate serve > audit.jsonl): show the broker\'s reason for each refusal')
    .option('--connect-timeout-hint <duration>', 'the broker\'s --connect-timeout (bounds the never-connect attack)', '10s')
    .option('--max-connections-hint <n>', 'the broker\'s --max-connections-per-ip (the flood opens 10 more)', '50')
    .option('--only <ids>', 'comma-separated attack ids (see --list)')
    .option('--list', 'list the attacks and exit')
  addStoreOptions(cmd)
  cmd.action(async (flags: AttackFlags) => {
    if (flags.list === true) {
      for (const a of CATALOGUE) process.stdout.write(`${a.id.padEnd(28)} ${a.family.padEnd(10)} expects ${a.expects.padEnd(24)} ${a.title}\n`)
      return
    }
    requireFlags(flags, ['url', 'pki'])
    const hint = durationFlag('--connect-timeout-hint', flags.connectTimeoutHint, 'a duration from 100ms to 10m', (ms) => ms >= 100 && ms <= 600_000)
    const cap = countFlag('--max-connections-hint', flags.maxConnectionsHint, 1990, 'an integer from 1 to 1990')
    const { attacks, unknown } = selectAttacks(flags.only?.split(',').map((s) => s.trim()).filter((s) => s !== ''))
    if (unknown.length > 0) throw fgError('FG_ERR_CONFIG_INVALID', `--only: unknown attack ${unknown.map((u) => JSON.stringify(u)).join(', ')} (see --list)`)

    let store: RevocationStore | undefined
    let where: string | undefined
    if (storeGiven(flags)) {
      const opened = await openCliStores(flags, { revocations: REVOCATION_STORES })
      ;({ stores: { revocations: store }, where } = opened)
    }
    const revoke = store
      ? async (certPath: string) => {
        const targets = revokeTargets({ cert: certPath, reason: 'keyCompromise' })
        await store!.revoke(targets.map((t) => t.target), { reason: 'keyCompromise', revokedAt: new Date().toISOString() })
      }
      : undefined
    let out
    try {
      out = await runCatalogue({
        url: flags.url!, pkiDir: flags.pki!, attacks, quick: flags.quick === true, noCars: flags.cars === false,
        connectTimeoutHintMs: hint, maxConnectionsHint: cap, revoke, storeWhere: where, auditLog: flags.auditLog,
        store: store ? resolveStoreChoice(flags) : undefined,
        onLine: (l) => process.stderr.write(l + '\n'),
        hooks: {
          onResult: (r, i, n) => process.stderr.write(`[${String(i + 1).padStart(2)}/${n}] ${r.verdict.padEnd(7)} ${r.id}: ${safe(r.observed, 160)}\n`),
        },
      })
    } catch (err) {
      if (err instanceof CatalogueNotStarted) {
        process.stderr.write(`sim attack: cannot start: ${err.message}\n`)
        throw new ExitCode(3)
      }
      throw err
    } finally {
      await store?.close()
    }
    process.stdout.write(renderTable(out.report))
    if (flags.json !== undefined) writeReport('--json', flags.json, renderJson(out.report))
    if (flags.html !== undefined) writeReport('--html', flags.html, renderHtml(out.report))
    if (out.exitCode !== 0) throw new ExitCode(out.exitCode)
  })
  return cmd
}
