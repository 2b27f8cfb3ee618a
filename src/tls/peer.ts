// The verified peer chain as DER, leaf first (DESIGN step 1-2).
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls'

export function peerChainDer (socket: TLSSocket): Buffer[] {
  const chain: Buffer[] = []
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true)
  // Node fills issuerCertificate from what the peer sent and the trust store;
  // a root points at itself.
  const seen = new Set<DetailedPeerCertificate>()
  while (cert && cert.raw && !seen.has(cert) && chain.length < 10) {
    seen.add(cert)
    chain.push(cert.raw)
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break
    cert = cert.issuerCertificate
  }
  return chain
}
