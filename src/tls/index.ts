export { tlsServerOptions, AEAD_CIPHERS, type TlsMaterial } from './options.js'
export { peerLeaf, peerLeafDer } from './peer.js'
export { loadTlsMaterial, readPrivateKey, type LoadedTlsMaterial } from './material.js'
