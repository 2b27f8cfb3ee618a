export { tlsServerOptions, AEAD_CIPHERS, type TlsMaterial } from './options.js'
export { PeerChainVerifier, peerLeaf, peerLeafDer } from './peer.js'
export { loadTlsMaterial, readCertificates, readPrivateKey, splitPemCertificates, type LoadedTlsMaterial } from './material.js'
