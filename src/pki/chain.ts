// Certificate chains, verified link by link: the one chain verifier behind the
// broker's TLS peer check (a client's chain at connect) and signed-command
// trust (a signer's x5c, commands/trust.ts), and the link check a car applies
// to a certificate the provisioner returned.
//
// Why not socket.getPeerCertificate(true): it costs ~15% of an mTLS connect,
// and both it and X509Certificate.issuerCertificate pick each issuer from the
// certificates the *peer sent*, by name, first match. OpenSSL's verifier prefers
// a time-valid candidate, so a client could put a decoy with the intermediate's
// name ahead of the real (revoked) intermediate: OpenSSL verifies the real path
// while the reported chain holds the decoy, and issuer + serial and CA revocation
// lookups would miss. Here a link counts only if its signature holds and its
// issuer is within its validity; links are verified once and remembered.
import { X509Certificate, verify, type KeyObject } from 'node:crypto'
import { sha256Hex, signedParts } from '../identity/index.js'

const MAX_DEPTH = 8
const MAX_LINKS = 100_000
const MAX_KNOWN_CAS = 1000

/** Is the certificate within its validity period at `now` (ms)? */
export function validAt (cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo)
}

/** Is `parent` the issuer of `child`: the names match and parent's key verifies child's signature (false when either cannot be read)? */
export function issuedBy (child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey)
  } catch {
    return false
  }
}

export function isSelfSigned (cert: X509Certificate): boolean {
  return issuedBy(cert, cert)
}

interface KnownCa {
  readonly cert: X509Certificate
  readonly publicKey: KeyObject
  readonly above: Buffer[]
  readonly notBefore: number
  readonly notAfter: number
  /** known from configuration (the server's own chain), not from a chain a peer sent */
  readonly configured: boolean
}

/**
 * Chains from a leaf up to one of the trust anchors (DER, or certificates
 * already parsed: a root, or an intermediate trusted as such). Every CA of a chain once
 * verified becomes a known issuer (bounded), so the next leaf it issued costs
 * one signature check (chainOfKnown).
 */
export class ChainVerifier {
  readonly #anchors: X509Certificate[]
  readonly #anchorFps: Set<string>
  /** each anchor's certificates above it among the anchors (an intermediate trusted as an anchor: its root, when trusted too) */
  readonly #aboveAnchor = new Map<string, X509Certificate[]>()
  readonly #links = new Set<string>()
  readonly #fps = new WeakMap<X509Certificate, string>()
  /** fingerprints of the CA certificates whose own chain to an anchor was verified */
  readonly #knownCas = new Set<string>()
  /** those CAs by the DER of their subject Name, with the chain above each */
  readonly #bySubject = new Map<string, KnownCa[]>()

  constructor (anchors: ReadonlyArray<Uint8Array | X509Certificate>) {
    this.#anchors = anchors.map((a) => a instanceof X509Certificate ? a : new X509Certificate(a))
    this.#anchorFps = new Set(this.#anchors.map((a) => this.fingerprint(a)))
    // An intermediate in the bundle ends a verified chain, but its issuer's revocation of it
    // (issuer + serial) must still be found: its chain goes on through the anchors above it.
    const now = Date.now()
    for (const a of this.#anchors) this.#aboveAnchor.set(this.fingerprint(a), this.#anchorsAbove(a, now))
    for (const a of this.#anchors) this.#know(a, [a.raw, ...this.#aboveAnchor.get(this.fingerprint(a))!.map((c) => c.raw)])
  }

  /** the anchors above an anchor, each issuing the one below (signature and validity checked), up to a self-signed one */
  #anchorsAbove (anchor: X509Certificate, now: number): X509Certificate[] {
    const above: X509Certificate[] = []
    const seen = new Set([this.fingerprint(anchor)])
    for (let cur = anchor, depth = 0; depth < MAX_DEPTH && !isSelfSigned(cur); depth++) {
      const parent = this.#anchors.find((a) => !seen.has(this.fingerprint(a)) && this.#linked(cur, a, now))
      if (!parent) break
      seen.add(this.fingerprint(parent))
      above.push(parent)
      cur = parent
    }
    return above
  }

  /**
   * The verified chain of a leaf given as DER, using only CA certificates already
   * known (verified earlier) and valid at `now`: most leaves come from a few
   * intermediates, so a new leaf costs one signature check and no walk of what
   * the peer sent. Null when no known CA issued it (then walk: chainOf).
   */
  chainOfKnown (leafDer: Buffer, now = Date.now(), opts: { configured?: boolean } = {}): Buffer[] | null {
    let parts
    try { parts = signedParts(leafDer) } catch { return null }
    if (!parts) return null
    for (const ca of this.#bySubject.get(parts.issuerName.toString('base64')) ?? []) {
      if (now < ca.notBefore || now > ca.notAfter) continue
      // the server's own copies only where no peer chain exists (a resumed session):
      // a full handshake's chain is the one the peer sent, the copy a CA revocation names
      if (ca.configured && opts.configured !== true) continue
      let ok: boolean
      try {
        ok = verify(parts.digest, parts.tbs, parts.keyType === 'ec' ? { key: ca.publicKey, dsaEncoding: 'der' } : ca.publicKey, parts.signature)
      } catch { ok = false }
      if (ok) return [leafDer, ...ca.above]
    }
    return null
  }

  /**
   * DER chain leaf -> ... -> trust anchor, or null when no chain of verified
   * links reaches an anchor. Each issuer is taken from what the peer sent
   * (leaf.issuerCertificate) when its signature holds, else from the anchors.
   */
  chainOf (leaf: X509Certificate, now = Date.now()): Buffer[] | null {
    const chain: X509Certificate[] = [leaf]
    let cur = leaf
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      if (this.#anchorFps.has(this.fingerprint(cur))) {
        chain.push(...(this.#aboveAnchor.get(this.fingerprint(cur)) ?? []))
        this.#remember(chain)
        return chain.map((c) => c.raw)
      }
      let parent: X509Certificate | undefined = cur.issuerCertificate
      if (parent && (parent.raw.equals(cur.raw) || !this.#linked(cur, parent, now))) parent = undefined
      parent ??= this.#anchors.find((a) => this.#linked(cur, a, now))
      if (!parent) return null
      chain.push(parent)
      cur = parent
    }
    return null
  }

  /**
   * Know these CA certificates (e.g. the intermediates of the server's own chain)
   * as issuers, each whose chain to an anchor verifies now: a resumed TLS session
   * shows only the leaf, and its chain is rebuilt from what is known.
   */
  learnIssuers (certs: readonly X509Certificate[], now = Date.now(), opts: { configured?: boolean } = {}): void {
    const configured = opts.configured ?? true
    const pending = certs.filter((c) => c.ca && !this.#knownCas.has(this.fingerprint(c)))
    for (let progress = true; progress && pending.length > 0;) {
      progress = false
      for (let i = pending.length - 1; i >= 0; i--) {
        const ca = pending[i]!
        const above = this.#aboveOf(ca, now)
        if (!above) continue
        this.#know(ca, [ca.raw, ...above], configured)
        pending.splice(i, 1)
        progress = true
      }
    }
  }

  /** the chain above a CA certificate, when a known CA valid now issued it */
  #aboveOf (ca: X509Certificate, now: number): Buffer[] | null {
    const chain = this.chainOfKnown(ca.raw, now, { configured: true })
    return chain ? chain.slice(1) : null
  }

  /** lowercase hex SHA-256 of the certificate's DER, computed once per object */
  fingerprint (cert: X509Certificate): string {
    let fp = this.#fps.get(cert)
    if (fp === undefined) {
      fp = sha256Hex(cert.raw)
      this.#fps.set(cert, fp)
    }
    return fp
  }

  /** the CAs learnt from peers' chains (not the anchors, not configured ones): kept across a new trust bundle by learnIssuers, verified again */
  seenIssuers (): X509Certificate[] {
    const out: X509Certificate[] = []
    for (const list of this.#bySubject.values()) for (const ca of list) if (!ca.configured && !this.#anchorFps.has(this.fingerprint(ca.cert))) out.push(ca.cert)
    return out
  }

  #know (ca: X509Certificate, above: Buffer[], configured = false): void {
    const fp = this.fingerprint(ca)
    if (this.#knownCas.has(fp)) {
      // a configured copy a peer has now sent too: it serves full handshakes as well
      if (!configured) {
        for (const list of this.#bySubject.values()) {
          const i = list.findIndex((k) => k.configured && this.fingerprint(k.cert) === fp)
          if (i >= 0) list[i] = { ...list[i]!, configured: false }
        }
      }
      return
    }
    if (this.#knownCas.size >= MAX_KNOWN_CAS) return
    this.#knownCas.add(fp)
    const parts = signedParts(ca.raw)
    if (!parts) return // an unusual algorithm: this CA's leaves take the general path
    const key = parts.subjectName.toString('base64')
    const list = this.#bySubject.get(key) ?? []
    list.push({ cert: ca, publicKey: ca.publicKey, above, notBefore: Date.parse(ca.validFrom), notAfter: Date.parse(ca.validTo), configured })
    this.#bySubject.set(key, list)
  }

  #remember (chain: X509Certificate[]): void {
    // every CA of a verified chain becomes a known issuer (bounded: CAs are few)
    for (let i = 1; i < chain.length; i++) this.#know(chain[i]!, chain.slice(i).map((c) => c.raw))
  }

  /**
   * Is `parent` the issuer of `child`, signature included? An expired parent is
   * never a link: a peer could send an expired copy of the issuing CA (same
   * name and key) before the real one; OpenSSL verifies with the time-valid
   * one, and revocation must look up that one's fingerprint.
   */
  #linked (child: X509Certificate, parent: X509Certificate, now: number): boolean {
    if (!validAt(parent, now)) return false
    const key = this.fingerprint(child) + '>' + this.fingerprint(parent)
    if (this.#links.has(key)) return true
    const ok = issuedBy(child, parent)
    if (ok) {
      if (this.#links.size >= MAX_LINKS) this.#links.clear()
      this.#links.add(key)
    }
    return ok
  }
}
