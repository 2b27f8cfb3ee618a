// The TLS resumption part: with --tls-resumption on, the node's ticket keys
// (src/resumption) from the ticket secret store chosen in one place: the
// operator's file (--tls-ticket-keys), else Redis with --redis, else this
// process's own. A library user may pass their own store.
import type { Config } from '../config/index.js'
import type { AuditLogger } from '../audit/index.js'
import type { LoadedTlsMaterial } from '../tls/index.js'
import { openStore, storeContext, type TicketSecretStore } from '../stores/index.js'
import { TICKET_SECRET_STORES, TicketKeys, ticketSecretBackend } from '../resumption/index.js'

export async function openTicketKeys (config: Config, material: LoadedTlsMaterial, log: AuditLogger, given?: TicketSecretStore): Promise<TicketKeys | undefined> {
  if (config.tlsResumption !== 'on') return undefined
  const backend = ticketSecretBackend(config)
  const store = given ?? await openStore('ticket secret', TICKET_SECRET_STORES, backend ? { ...config, backend } : config, storeContext(log))
  try {
    return await TicketKeys.start({ store, rotationMs: config.tlsTicketRotation, trust: material, log })
  } catch (err) {
    if (!given) await store.close().catch(() => {})
    throw err
  }
}
