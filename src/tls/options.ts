// tls.Server options for the MQTT listener (ARCHITECTURE.md step 1).
import { constants } from 'node:crypto'
import type { TlsOptions } from 'node:tls'

// TLS 1.3 suites are all AEAD; for TLS 1.2 only ECDHE with GCM or ChaCha20-Poly1305.
export const AEAD_CIPHERS = [
  'TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305',
].join(':')

export interface TlsMaterial {
  /** PEM trust bundle: the fleet's CA certificates (client certificates must chain to one) */
  readonly ca: string
  /** PEM server chain: leaf first, then intermediates */
  readonly cert: string
  /** PEM private key of the server leaf */
  readonly key: string
}

export interface ListenerTls {
  readonly handshakeTimeoutMs: number
  /** key exchange groups, OpenSSL's "A:B:C" (config: --tls-groups, checked at start) */
  readonly groups?: string
  /**
   * Session tickets on: how long a ticket lives (seconds) and the session id
   * context every node shares (tickets of another trust bundle do not resume).
   * Absent: no resumption at all.
   */
  readonly resumption?: { readonly lifetimeSeconds: number; readonly sessionIdContext: string; readonly ticketKeys: Buffer }
}

export function tlsServerOptions (material: TlsMaterial, listener: ListenerTls): TlsOptions {
  const resumption = listener.resumption
  return {
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ciphers: AEAD_CIPHERS,
    honorCipherOrder: true,
    ...(listener.groups !== undefined ? { ecdhCurve: listener.groups } : {}),
    handshakeTimeout: listener.handshakeTimeoutMs,
    // Small MQTT packets must not wait for the peer's delayed ACK (Nagle): ~40 ms per round trip otherwise.
    noDelay: true,
    ...(resumption
      // Tickets on: a resumed session shows only the leaf kept in the ticket; the
      // broker rebuilds its chain from the trust bundle and judges it at CONNECT like
      // a full handshake (ARCHITECTURE.md step 1). The ticket keys given here are the
      // current ones; the broker installs its rotating keyring on the server.
      ? { secureOptions: constants.SSL_OP_NO_RENEGOTIATION, sessionTimeout: resumption.lifetimeSeconds, sessionIdContext: resumption.sessionIdContext, ticketKeys: resumption.ticketKeys }
      // Resumption off: no tickets; Node keeps no internal session cache, and we
      // register no 'resumeSession' listener.
      : { secureOptions: constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION, sessionTimeout: 1 }),
  }
}
