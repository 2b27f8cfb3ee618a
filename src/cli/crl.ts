// `fleetgate crl import`: load a CRL's entries into revoked:serial:<issuer fp>,
// after its signature is verified against --issuer (nothing from an unverified CRL).
import type { Command } from 'commander'
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { newCommand } from './program.js'
import { BY_HELP, freeText, operatorName } from './operator.js'
import { progressPrinter } from './progress.js'
import { addStoreOptions, openCliStores, type StoreFlags } from './store-options.js'
import { fgError } from '../contract/errors.js'
import { readTextFile } from '../pki/pem.js'
import { crlIsStale, parseCrl, REVOCATION_STORES, type RevokedRecord } from '../revocation/index.js'

type CrlFlags = StoreFlags & { issuer: string; by?: string; note?: string }

export function crlCommand (): Command {
  const crl = newCommand('crl', 'certificate revocation lists')
  const imp = newCommand('import', 'verify a CRL against its issuer, then load every entry into the revocation store (PEM or DER)')
    .argument('<crl>', 'the CRL file')
    .requiredOption('--issuer <pem>', 'the CA certificate that signed the CRL')
    .option('--by <name>', BY_HELP)
    .option('--note <text>', 'a free-text note for the operator log (default: the CRL file and its thisUpdate)')
  addStoreOptions(imp)
  imp.action(async (file: string, flags: CrlFlags) => {
    const by = operatorName(flags.by)
    const note = freeText('--note', flags.note)
    let data: Buffer
    try { data = readFileSync(file) } catch (err) {
      throw fgError('FG_ERR_FILE_UNREADABLE', `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err)
    }
    const parsed = parseCrl(data, readTextFile(flags.issuer), file, `--issuer ${flags.issuer}`)
    // Stale: imported all the same (its revocations still hold; refusing it would
    // leave them admitted), with one line saying a newer CRL is due.
    if (crlIsStale(parsed)) process.stderr.write(`warning: ${file}: stale CRL, nextUpdate ${parsed.nextUpdate} is in the past (a newer CRL may list more revocations): imported anyway\n`)
    const records: RevokedRecord[] = parsed.entries.map((e) => ({ issuer: parsed.issuerFingerprint, serial: e.serial, reason: e.reason, revokedAt: e.revokedAt }))
    const { stores, where, close } = await openCliStores(flags, { revocations: REVOCATION_STORES })
    try {
      const print = progressPrinter('crl import')
      // each new or changed entry goes to the operator log; one already stored is not written again
      const written = await stores.revocations.revokeMany(records, print, { by, note: note || `crl import ${basename(file)} (thisUpdate ${parsed.thisUpdate})` })
      process.stdout.write(`imported ${records.length} revocations from ${file} (${written} new or changed, by ${by}; signature verified, issuer ${parsed.issuerFingerprint}, thisUpdate ${parsed.thisUpdate}, nextUpdate ${parsed.nextUpdate ?? 'none'}) into ${where}\n`)
    } finally {
      await close()
    }
  })
  crl.addCommand(imp)
  return crl
}
