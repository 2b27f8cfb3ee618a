// The leaf a TLS peer presented, read from the socket. Its chain is verified
// by the one chain verifier (pki/chain.ts), not taken from what the socket
// reports (why: the comment there).
import type { X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import { readTlv } from '../identity/der.js'

/** `peer [3] EXPLICIT Certificate OPTIONAL` in OpenSSL's SSL_SESSION_ASN1 */
const SESSION_PEER = 0xa3
const SEQUENCE = 0x30

/**
 * The peer's certificate inside an encoded TLS session (OpenSSL's i2d_SSL_SESSION:
 * SEQUENCE { version, ssl_version, cipher, session_id, master_key, [0]..[2], peer [3]
 * EXPLICIT Certificate, ... }), copied out; null when it has none or the encoding
 * is not that shape.
 */
export function sessionPeerDer (session: Uint8Array): Buffer | null {
  const outer = readTlv(session, 0, session.length, 'openssl')
  if (outer === null || outer.tag !== SEQUENCE) return null
  for (let p = outer.contentStart; p < outer.end;) {
    const t = readTlv(session, p, outer.end, 'openssl')
    if (t === null) return null
    if (t.tag === SESSION_PEER) {
      const cert = readTlv(session, t.contentStart, t.end, 'openssl')
      return cert !== null && cert.tag === SEQUENCE && cert.end === t.end ? Buffer.from(session.subarray(cert.start, cert.end)) : null
    }
    if (t.tag > SESSION_PEER && (t.tag & 0xe0) === 0xa0) return null // past [3]: no peer
    p = t.end
  }
  return null
}

/**
 * The DER of the leaf the peer presented, or null. Read from the encoded
 * session (~10 µs; the same SSL_SESSION peer that getPeerCertificate reads),
 * whose buffer, holding the session's secret, is wiped at once. Node's own
 * getters cost more: getPeerCertificate(false) builds an object of every field
 * and three fingerprints (~55-80 µs), getPeerX509Certificate() also copies the
 * chain (~140 µs). The identity cache is keyed from this; the chain is walked
 * only on a miss.
 */
export function peerLeafDer (socket: TLSSocket): Buffer | null {
  const session = socket.getSession()
  if (session !== undefined && session.length > 0) {
    try {
      const leaf = sessionPeerDer(session)
      if (leaf !== null) return leaf
    } finally {
      session.fill(0)
    }
  }
  const raw = socket.getPeerCertificate(false)?.raw
  return raw && raw.length > 0 ? raw : null
}

/** The leaf as an X509Certificate with the peer-sent issuers behind it, or null. */
export function peerLeaf (socket: TLSSocket): X509Certificate | null {
  return socket.getPeerX509Certificate() ?? null
}
