// TLS session resumption: ticket keys by rotation epoch (keyring.ts), their
// secrets from a store (memory, file, Redis: stores.ts), and the running part
// installed on the tls.Server (ticket-keys.ts).
export { TicketKeyring, bundleDigest, deriveTicketKey, type TicketTrust } from './keyring.js'
export { TicketKeys, type TicketKeysOptions, type TicketOptions } from './ticket-keys.js'
export { TICKET_SECRET_STORES, ticketSecretBackend, type TicketSecretChoice } from './stores.js'
export { MemoryTicketSecrets } from './memory-secrets.js'
export { FileTicketSecrets, readTicketSecretFile } from './file-secrets.js'
export { RedisTicketSecrets, ticketSecretKey } from './redis-secrets.js'
