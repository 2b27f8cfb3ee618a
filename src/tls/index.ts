export { tlsServerOptions, AEAD_CIPHERS, type TlsMaterial } from './options.js'
export { peerChainDer } from './peer.js'
export { loadTlsMaterial, readCertificates, readPrivateKey, splitPemCertificates, type LoadedTlsMaterial } from './material.js'
