// The factory map of the ticket secret store (chosen by src/stores/open.ts, or
// `file` when --tls-ticket-keys is given). A new implementation is a file beside
// these plus one line here.
import { fgError } from '../contract/errors.js'
import { DEFAULT_PREFIX, type StoreChoice, type StoreFactories, type TicketSecretStore } from '../stores/index.js'
import { MemoryTicketSecrets } from './memory-secrets.js'
import { FileTicketSecrets } from './file-secrets.js'
import { RedisTicketSecrets } from './redis-secrets.js'

/** the store choice plus the file of --tls-ticket-keys */
export interface TicketSecretChoice extends StoreChoice { readonly tlsTicketKeys?: string }

export const TICKET_SECRET_STORES: StoreFactories<TicketSecretStore> = {
  embedded: async () => new MemoryTicketSecrets(),
  file: async (choice: TicketSecretChoice) => {
    if (!choice.tlsTicketKeys) throw fgError('FG_ERR_CONFIG_MISSING', 'the file ticket secret store needs --tls-ticket-keys <file>')
    return new FileTicketSecrets(choice.tlsTicketKeys)
  },
  redis: async (choice) => {
    if (!choice.redis) throw fgError('FG_ERR_CONFIG_MISSING', 'the redis ticket secret store needs --redis <url> (REDIS_URL)')
    return await RedisTicketSecrets.open({ url: choice.redis, prefix: choice.redisPrefix ?? DEFAULT_PREFIX, timeoutMs: choice.revocationTimeout ?? 1000 })
  },
}

/** `file` with --tls-ticket-keys (the operator's choice wins), else the node's store choice */
export function ticketSecretBackend (choice: TicketSecretChoice): string | undefined {
  return choice.tlsTicketKeys ? 'file' : undefined
}
