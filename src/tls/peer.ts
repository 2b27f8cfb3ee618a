// The leaf a TLS peer presented, read from the socket. Its chain is verified
// by the one chain verifier (pki/chain.ts), not taken from what the socket
// reports (why: the comment there).
import type { X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'

/**
 * The DER of the leaf the peer presented, or null. On a fresh socket this costs
 * ~53 µs against ~140 µs for getPeerX509Certificate() (which also copies the
 * chain), so the identity cache is keyed from this and the chain is walked only
 * on a miss.
 */
export function peerLeafDer (socket: TLSSocket): Buffer | null {
  const raw = socket.getPeerCertificate(false)?.raw
  return raw && raw.length > 0 ? raw : null
}

/** The leaf as an X509Certificate with the peer-sent issuers behind it, or null. */
export function peerLeaf (socket: TLSSocket): X509Certificate | null {
  return socket.getPeerX509Certificate() ?? null
}
