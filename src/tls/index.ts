export { tlsServerOptions, AEAD_CIPHERS, type TlsMaterial, type ListenerTls } from './options.js'
export { peerLeaf, peerLeafDer } from './peer.js'
export { loadTlsMaterial, readPrivateKey, type LoadedTlsMaterial } from './material.js'
export { installTicketKeys, ticketKeyCallback, ticketKeysBuffer, type TicketKey, type TicketKeySource } from './ticket-callback.js'
