// x5c chain validation for signed commands and results: the signer's leaf must
// chain leaf -> pinned issuing CA -> pinned fleet root. The links are checked
// by the one chain verifier (pki/chain.ts), dates against the injected clock;
// verified signers are cached by leaf, so a backend that signs thousands of
// commands with one certificate is parsed once. Pure: takes DER.
import { X509Certificate, webcrypto, type KeyObject } from 'node:crypto'
import { normaliseSerial, parseCertificate, sha256Hex, EKU_CLIENT_AUTH, EKU_DOCUMENT_SIGNING } from '../identity/index.js'
import { ChainVerifier, isSelfSigned, issuedBy, validAt } from '../pki/chain.js'
import { isP256 } from '../pki/keys.js'
import { subjectAttribute } from '../pki/subject.js'
import { publicJwkOf, thumbprintOf } from './keys.js'

/**
 * What a signer's leaf must say of itself, as the broker asks of a client: a
 * signing key (keyUsage digitalSignature), made for clients (EKU clientAuth, or
 * documentSigning), and exactly one role (one OU). Pure; null when it holds.
 */
export function signerProfileProblem (leafDer: Uint8Array): string | null {
  const leaf = parseCertificate(leafDer)
  if (leaf.digitalSignature !== true) return leaf.digitalSignature === null ? 'the signer certificate has no keyUsage extension' : 'the signer certificate\'s keyUsage lacks digitalSignature'
  if (leaf.eku === null) return 'the signer certificate has no extendedKeyUsage extension'
  if (!leaf.eku.includes(EKU_CLIENT_AUTH) && !leaf.eku.includes(EKU_DOCUMENT_SIGNING)) return 'the signer certificate\'s extendedKeyUsage has neither clientAuth nor documentSigning'
  const ous = leaf.subject.OU?.length ?? 0
  if (ous !== 1) return `the signer certificate has ${ous} OU values (its role must be exactly one)`
  return null
}

/** What the verifier trusts: the fleet root(s) and the fleet issuing CA(s) under them. */
export interface CommandTrust {
  readonly roots: readonly X509Certificate[]
  readonly issuing: readonly X509Certificate[]
}

/** The verified signer of a command or result. */
export interface Signer {
  /** lowercase hex SHA-256 of the leaf DER */
  readonly fingerprint: string
  /** fingerprint of the issuing CA that signed the leaf */
  readonly issuerFingerprint: string
  /** lowercase hex, no leading zeros */
  readonly serial: string
  /** the issuing CA's serial, and the fingerprint of the root that issued it (revocation of the CA by the root) */
  readonly issuerSerial: string
  readonly rootFingerprint: string
  readonly cn: string | undefined
  /** the signer role (first OU) */
  readonly ou: string | undefined
  readonly publicKey: KeyObject
  /** RFC 7638 thumbprint of the leaf's public key (a car's result names it in `by`) */
  readonly kid: string
  /** the same key imported once for jose (WebCrypto) */
  readonly cryptoKey: webcrypto.CryptoKey
}

interface CachedChain {
  readonly signer: Signer
  /** the x5c certificates after the leaf, as sent (the cached decision depends on them) */
  readonly rest: string
  /** validity window of the whole chain */
  readonly notBefore: number
  readonly notAfter: number
}

export type ChainResult = { ok: true; signer: Signer } | { ok: false; detail: string }

const fp = sha256Hex

/**
 * Trust from DER certificates: `roots` are the self-signed ones of the pinned
 * bundle; `issuing` are the given fleet issuing CAs that a root signed. A
 * certificate that is neither is ignored (never trusted by accident).
 */
export function commandTrust (rootDers: readonly Uint8Array[], issuingDers: readonly Uint8Array[]): CommandTrust {
  const roots = rootDers.map((d) => new X509Certificate(d)).filter((c) => c.ca && isSelfSigned(c))
  const issuing = issuingDers.map((d) => new X509Certificate(d))
    .filter((c) => c.ca && !isSelfSigned(c) && roots.some((r) => issuedBy(c, r)))
  return Object.freeze({ roots: Object.freeze(roots), issuing: Object.freeze(issuing) })
}

/**
 * serial as the revocation schema spells it (normaliseSerial of node's upper-case hex); node prints a
 * negative serial (RFC 5280 forbids them) as "-0A", which stays "-0a" as before rather than null
 */
function serialOf (cert: X509Certificate): string {
  return normaliseSerial(cert.serialNumber) ?? cert.serialNumber.toLowerCase()
}

/** Verifies the x5c of a signed command or result against a CommandTrust: who signed it, or why not trusted. */
export class SignerVerifier {
  readonly #trust: CommandTrust
  readonly #cache = new Map<string, CachedChain>()
  readonly #max: number
  readonly #issuingFp: readonly string[]
  readonly #rootFp: readonly string[]
  /** the pinned issuing CAs as the anchors: a signer's leaf must be issued by one of them directly */
  readonly #issuers: ChainVerifier

  constructor (trust: CommandTrust, maxCached = 1024) {
    this.#trust = trust
    this.#max = maxCached
    this.#issuingFp = trust.issuing.map((c) => fp(c.raw))
    this.#rootFp = trust.roots.map((c) => fp(c.raw))
    this.#issuers = new ChainVerifier(trust.issuing)
  }

  get trust (): CommandTrust { return this.#trust }

  /** x5c (standard base64 DER, leaf first) -> the signer, or why it is not trusted. */
  async verify (x5c: readonly string[], now: number): Promise<ChainResult> {
    const rest = x5c.slice(1).join('.')
    const leafKey = x5c[0]!
    const hit = this.#cache.get(leafKey)
    if (hit && hit.rest === rest) {
      if (now < hit.notBefore || now > hit.notAfter) return { ok: false, detail: 'a certificate of the chain is outside its validity' }
      return { ok: true, signer: hit.signer }
    }
    let result: CachedChain | string
    try {
      result = await this.#verifyFresh(x5c, now)
    } catch {
      result = 'a certificate of x5c cannot be parsed'
    }
    if (typeof result === 'string') return { ok: false, detail: result }
    if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value as string)
    this.#cache.set(leafKey, result)
    return { ok: true, signer: result.signer }
  }

  async #verifyFresh (x5c: readonly string[], now: number): Promise<CachedChain | string> {
    const ders = x5c.map((b) => Buffer.from(b, 'base64'))
    const leaf = new X509Certificate(ders[0]!)
    if (leaf.ca) return 'the signer certificate is a CA'
    // The issuing CA: x5c[1] must be one the verifier pinned; with a bare leaf, the pinned one that issued it.
    if (ders.length >= 2 && !this.#issuingFp.includes(fp(ders[1]!))) return 'x5c[1] is not the fleet issuing CA'
    const chain = this.#issuers.chainOfKnown(ders[0]!, now) ?? this.#issuers.chainOf(leaf, now)
    if (chain === null || chain.length !== 2 || (ders.length >= 2 && !chain[1]!.equals(ders[1]!))) return 'the signer certificate is not issued by the fleet issuing CA'
    const issuer = this.#trust.issuing[this.#issuingFp.indexOf(fp(chain[1]!))]!
    // commandTrust kept only issuing CAs that a root signed: here the name finds that root
    const root = this.#trust.roots.find((r) => issuer.checkIssued(r))
    if (!root) return 'the issuing CA does not chain to the pinned root'
    if (ders.length === 3 && !this.#rootFp.includes(fp(ders[2]!))) return 'x5c[2] is not the pinned root'
    for (const c of [leaf, issuer, root]) if (!validAt(c, now)) return 'a certificate of the chain is outside its validity'
    const profile = signerProfileProblem(ders[0]!)
    if (profile !== null) return profile
    const key = leaf.publicKey
    if (!isP256(key)) return 'the signer key is not ECDSA P-256'
    const cryptoKey = await webcrypto.subtle.importKey('spki', key.export({ type: 'spki', format: 'der' }),
      { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify'])
    const signer: Signer = Object.freeze({
      fingerprint: fp(ders[0]!),
      issuerFingerprint: fp(issuer.raw),
      serial: serialOf(leaf),
      issuerSerial: serialOf(issuer),
      rootFingerprint: fp(root.raw),
      cn: subjectAttribute(leaf, 'CN'),
      ou: subjectAttribute(leaf, 'OU'),
      publicKey: key,
      kid: await thumbprintOf(publicJwkOf(key)),
      cryptoKey,
    })
    return {
      signer,
      rest: x5c.slice(1).join('.'),
      notBefore: Math.max(...[leaf, issuer, root].map((c) => Date.parse(c.validFrom))),
      notAfter: Math.min(...[leaf, issuer, root].map((c) => Date.parse(c.validTo))),
    }
  }
}
