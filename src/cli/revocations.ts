// `fleetgate revocations list`: what the store holds, one line each.
import type { Command } from 'commander'
import { newCommand } from './program.js'
import { addStoreOptions, openCliStores, type StoreFlags } from './store-options.js'
import { describeRecord, REVOCATION_STORES } from '../revocation/index.js'

type ListFlags = StoreFlags & { json?: boolean }

export function revocationsCommand (): Command {
  const cmd = newCommand('revocations', 'inspect the revocation store')
  const list = newCommand('list', 'list every revocation (by fingerprint, and by issuer + serial)')
    .option('--json', 'one JSON object per line')
  addStoreOptions(list)
  list.action(async (flags: ListFlags) => {
    const { stores, where, close } = await openCliStores(flags, { revocations: REVOCATION_STORES })
    try {
      const records = await stores.revocations.list()
      for (const r of records) process.stdout.write((flags.json ? JSON.stringify(r) : describeRecord(r)) + '\n')
      process.stderr.write(`${records.length} revocation${records.length === 1 ? '' : 's'} in ${where}\n`)
    } finally {
      await close()
    }
  })
  cmd.addCommand(list)
  return cmd
}
