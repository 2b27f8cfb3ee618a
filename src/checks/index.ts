// The checks the broker composes (docs/ARCHITECTURE.md): each is written against
// src/contract and the layers below it, and never imports src/broker.
// - revocation: the connect check and live enforcement (RevocationGuard);
// - certificate expiry of live sessions (ExpiryGuard);
// - the signed-command edge check (--enforce-signed-commands);
// - the connection and packet guards between the TLS socket and Aedes.
export { RevocationGuard, type RevocationGuardOptions } from './revocation-guard.js'
export { ExpiryGuard, ExpiryBuckets, firstExpiryOf, MAX_TIMER_MS, type ExpiryGuardOptions, type ExpiryClock, type FirstExpiry } from './expiry-guard.js'
export { commandEdgeCheck, type CommandEdgeOptions, type SignerRevocationLookup } from './command-edge.js'
export { edgeCommandTrust } from './command-edge-trust.js'
export { admitConnection, type Admission, type AdmitOptions } from './admit.js'
export { ConnectionLimiter } from './connection-limiter.js'
export { PacketScanner, type Oversize } from './packet-scanner.js'
export { PublishRate, EXCESS_SECONDS, BURST_SECONDS } from './publish-rate.js'
export { guardReads, type RateHandler, type RateLimit } from './read-guard.js'
export { classifyProtocolError, type ProtocolError } from './protocol-errors.js'
export { ConnectRate } from './connect-rate.js'
export { StoreStall } from './store-stall.js'
