// The identity part: what the TLS layer learnt of each connection (ARCHITECTURE.md
// steps 1-2), kept by the stream handed to broker.handle so that a byte-stream
// guard may sit between the TLSSocket and Aedes. Chains are verified and parsed
// once per leaf (a reconnecting car is not parsed again); a reload that changes
// the trust bundle starts a new generation, and connections described under an
// older one are decided again. A resumed TLS session shows only the leaf kept in
// its ticket: its chain is rebuilt from the trust bundle and the CAs verified
// before (the server's own chain included), and its validity is checked here,
// because OpenSSL checks neither on a resumption (ARCHITECTURE.md step 1).
import { X509Certificate } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { Client } from 'aedes'
import { peerLeaf, peerLeafDer } from '../tls/index.js'
import { ChainVerifier } from '../pki/chain.js'
import { IdentityCache, checkValidity, sha256Hex } from '../identity/index.js'
import type { ConnectionInfo } from './session.js'
import { ConnectionSlot } from '../aedes/slots.js'

export class ConnectionIdentities {
  #chains: ChainVerifier
  readonly #identities = new IdentityCache()
  readonly #connections = new ConnectionSlot<ConnectionInfo>('connection')
  #generation = 0

  #serverChain: X509Certificate[]

  /** caDer: the trust bundle; serverChainDer: the listener's own chain (its CAs are known issuers from the start) */
  constructor (caDer: readonly Buffer[], serverChainDer: readonly Buffer[] = []) {
    this.#serverChain = serverChainDer.slice(1).map((d) => new X509Certificate(d))
    this.#chains = this.#verifier(caDer, [])
  }

  /** the configured CAs (the server's own chain), and the CAs peers' chains taught before, each verified against `caDer` */
  #verifier (caDer: readonly Buffer[], seen: readonly X509Certificate[]): ChainVerifier {
    const chains = new ChainVerifier(caDer)
    chains.learnIssuers(this.#serverChain, Date.now(), { configured: true })
    chains.learnIssuers(seen, Date.now(), { configured: false })
    return chains
  }

  /** The identity (or the refusal) of a verified TLS peer; `remote`: the client's address (default: the socket's). */
  describe (socket: TLSSocket, remote: string | undefined = socket.remoteAddress): ConnectionInfo {
    const generation = this.#generation
    const resumed = socket.isSessionReused()
    // The shipped server refuses unverified peers in the handshake; a library
    // user's server with rejectUnauthorized off must not get identities from them.
    if (socket.authorized !== true) return { identity: null, remote, generation, resumed, refusal: { reason: 'no_client_auth', detail: 'TLS peer not verified' } }
    try {
      const leafDer = peerLeafDer(socket)
      if (!leafDer) return { identity: null, remote, generation, resumed }
      // A reconnecting car is not parsed (nor its chain verified) again. A resumed
      // session's chain may have been rebuilt with the server's own CA copies: kept
      // apart, so that a full handshake's identity always holds the copy the peer sent.
      const fingerprint = sha256Hex(leafDer)
      const resumedKey = fingerprint + ' resumed'
      const now = Date.now()
      let entry = this.#identities.get(fingerprint) ?? (resumed ? this.#identities.get(resumedKey) : undefined)
      if (entry && !checkValidity(entry.identity, now).ok) {
        // a CA copy of the cached chain expired: the chain is built again (another copy may hold)
        this.#identities.delete(fingerprint)
        this.#identities.delete(resumedKey)
        entry = undefined
      }
      if (!entry) {
        let chain = this.#chains.chainOfKnown(leafDer, now, { configured: resumed })
        if (!chain) {
          // resumed: no chain came with the leaf, only the trust anchors can issue it
          const leaf = resumed ? new X509Certificate(leafDer) : peerLeaf(socket)
          chain = leaf ? this.#chains.chainOf(leaf, now) : null
        }
        if (!chain) {
          const detail = resumed ? 'resumed TLS session: no known CA issued this certificate (a full handshake, or its issuing CA in --ca, is needed)' : 'no chain of verified signatures to a trust anchor'
          return { identity: null, remote, generation, resumed, refusal: { reason: 'no_client_auth', detail } }
        }
        entry = this.#identities.fromChain(chain, fingerprint, resumed ? resumedKey : fingerprint)
      }
      const { identity, check } = entry
      if (!check.ok) return { identity, remote, generation, resumed, refusal: { reason: check.reason, detail: check.detail } }
      const valid = checkValidity(identity, now)
      return valid.ok ? { identity, remote, generation, resumed } : { identity, remote, generation, resumed, refusal: { reason: valid.reason, detail: valid.detail } }
    } catch {
      // An unparseable certificate is refused, never half-trusted.
      return { identity: null, remote, generation, resumed, refusal: { reason: 'no_client_auth', detail: 'certificate cannot be parsed' } }
    }
  }

  /** What is known of the stream handed to broker.handle (set by the listener before the handing). */
  set (stream: object, info: ConnectionInfo): void {
    this.#connections.set(stream, info)
  }

  /** For the hooks: the client's connection, described now when it was handed to Aedes directly or described before a reload. */
  of (client: Client): ConnectionInfo | undefined {
    const conn = client.conn as object
    let info = this.#connections.get(conn)
    const stale = info !== undefined && info.generation !== undefined && info.generation !== this.#generation
    if ((!info || stale) && typeof (conn as TLSSocket).getPeerCertificate === 'function') {
      info = this.describe(conn as TLSSocket, info?.remote ?? (conn as TLSSocket).remoteAddress)
      this.#connections.set(conn, info)
    }
    return info
  }

  /** The remote address the listener saw for a stream. */
  remoteOf (stream: object): string | undefined {
    return this.#connections.get(stream)?.remote
  }

  /** false when a reload changed the trust bundle since this connection was described */
  isCurrent (info: ConnectionInfo): boolean {
    return info.generation === undefined || info.generation === this.#generation
  }

  /** the connection is decided: what the TLS layer learnt of it is no longer needed */
  forget (client: Client): void {
    this.#connections.delete(client.conn as object)
  }

  /** A new trust bundle: chains are walked again against the new anchors. */
  retrust (caDer: readonly Buffer[], serverChainDer?: readonly Buffer[]): void {
    if (serverChainDer) this.#serverChain = serverChainDer.slice(1).map((d) => new X509Certificate(d))
    // the CAs learnt from peers survive, if they still chain to the new bundle: a car
    // resuming after a reload is not refused for a CA this node knew a moment before
    this.#chains = this.#verifier(caDer, this.#chains.seenIssuers())
    this.#identities.clear()
    this.#generation++
  }

  clear (): void {
    this.#identities.clear()
  }

  /** the CA certificates learnt from verified client chains (DER) */
  knownCas (): Buffer[] {
    return this.#chains.seenIssuers().map((c) => c.raw)
  }
}
