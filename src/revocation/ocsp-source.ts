// A revocation source: an OCSP responder (README "Revocation sources"), asked
// about a connecting client's leaf certificate, read-only behind the
// RevocationStore port. The responder is the one the certificate's AIA names
// (--ocsp-aia), else --ocsp-url (several: in order until one answers). The
// request is unsigned; the response must be signed by the issuing CA or a
// responder certificate it issued for OCSP signing (ocsp.ts). An answer is
// cached until its nextUpdate (or --revocation-cache when it has none), so the
// periodic re-check of live sessions asks again only once that passed; a
// certificate found revoked then ends its session.
//
// Failure choice (--ocsp-unavailable): no usable answer (responder unreachable
// within --revocation-timeout, a bad or unverifiable response, status unknown,
// the issuing CA not among the known CAs, or only a cached answer past its
// nextUpdate) is revocation_unavailable with `refuse` (the default), admitted
// and logged with `allow`. A command signer's certificate (no connection
// identity) is not asked about here.
import { X509Certificate } from 'node:crypto'
import { fgError } from '../contract/errors.js'
import type { AuditLogger } from '../audit/index.js'
import { identityFields } from '../audit/index.js'
import type { Identity } from '../identity/index.js'
import { sha256Hex } from '../identity/index.js'
import type { RevocationEvent, RevocationQuery, RevocationStatus, RevocationStore, RevokedRecord } from '../stores/index.js'
import { fetchBounded } from './fetch.js'
import { ocspRequest, parseOcspResponse, type OcspAnswer } from './ocsp.js'

const MAX_RESPONSE_BYTES = 64 * 1024
const MAX_CACHED = 100_000

export interface OcspSourceOptions {
  /** --ocsp-url */
  readonly urls: readonly string[]
  /** --ocsp-aia */
  readonly aia: boolean
  /** --ocsp-unavailable */
  readonly unavailable: 'refuse' | 'allow'
  /** --revocation-timeout: bound on one responder's answer */
  readonly timeoutMs: number
  /** --revocation-cache: how long an answer without nextUpdate is used */
  readonly cacheMs: number
  /** the CA certificates (DER) that may issue client certificates: --ca and --cert's chain, and CAs met in clients' chains */
  readonly cas: () => readonly Uint8Array[]
  readonly log?: AuditLogger
  readonly now?: () => number
}

interface Cached { readonly answer: OcspAnswer; readonly until: number }

export class OcspRevocationSource implements RevocationStore {
  readonly kind = 'ocsp'
  readonly #o: OcspSourceOptions
  readonly #now: () => number
  /** issuer fingerprint + ' ' + serial -> the last verified answer */
  readonly #cache = new Map<string, Cached>()
  readonly #asking = new Map<string, Promise<OcspAnswer>>()
  readonly #issuers = new Map<string, X509Certificate>()
  #closed = false

  constructor (opts: OcspSourceOptions) {
    this.#o = opts
    this.#now = opts.now ?? Date.now
  }

  /** the responders for this certificate, in order: its AIA's (with --ocsp-aia), then --ocsp-url */
  respondersOf (identity: Identity): string[] {
    const aia = this.#o.aia ? (identity.ocsp ?? []).filter((u) => /^https?:\/\//i.test(u)) : []
    return [...aia, ...this.#o.urls.filter((u) => !aia.includes(u))]
  }

  #issuer (fingerprint: string): X509Certificate | undefined {
    let cert = this.#issuers.get(fingerprint)
    if (cert === undefined) {
      for (const der of this.#o.cas()) {
        if (sha256Hex(der) !== fingerprint) continue
        cert = new X509Certificate(der)
        if (this.#issuers.size < 1000) this.#issuers.set(fingerprint, cert)
        break
      }
    }
    return cert
  }

  healthy (): boolean { return !this.#closed }

  async status (query: RevocationQuery): Promise<RevocationStatus> {
    const identity = query.identity
    if (identity === undefined || this.#closed) return { revoked: null }
    const responders = this.respondersOf(identity)
    if (responders.length === 0) return { revoked: null }
    const issuerFp = identity.issuerFingerprint
    const issuer = issuerFp === null ? undefined : this.#issuer(issuerFp)
    if (issuerFp === null || issuer === undefined) return this.#noAnswer(identity, 'its issuing CA is not in --ca or --cert\'s chain')
    const key = `${issuerFp} ${identity.serial}`
    const now = this.#now()
    const cached = this.#cache.get(key)
    let answer: OcspAnswer
    if (cached !== undefined && now < cached.until) answer = cached.answer
    else {
      try {
        answer = await this.#ask(key, issuer, identity.serial, responders)
      } catch (err) {
        const stale = cached !== undefined ? ` (the cached answer's nextUpdate ${new Date(cached.until).toISOString()} passed)` : ''
        return this.#noAnswer(identity, `${(err as Error).message}${stale}`)
      }
    }
    if (answer.status === 'revoked') return { revoked: { issuer: issuerFp, serial: identity.serial, reason: answer.reason, revokedAt: answer.revokedAt } }
    if (answer.status === 'unknown') return this.#noAnswer(identity, 'the responder does not know this certificate (status unknown)')
    return { revoked: null }
  }

  /** one request at a time per certificate; the first responder that gives a verified answer */
  #ask (key: string, issuer: X509Certificate, serial: string, responders: readonly string[]): Promise<OcspAnswer> {
    let p = this.#asking.get(key)
    if (p !== undefined) return p
    p = (async () => {
      const body = ocspRequest(issuer, serial)
      const problems: string[] = []
      for (const url of responders) {
        try {
          const der = await fetchBounded(url, { method: 'POST', body, contentType: 'application/ocsp-request', timeoutMs: this.#o.timeoutMs, maxBytes: MAX_RESPONSE_BYTES })
          const answer = parseOcspResponse(der, issuer, serial, this.#now())
          this.#remember(key, answer)
          return answer
        } catch (err) {
          const m = (err as Error).message
          problems.push(m.startsWith(url) ? m : `${url}: ${m}`)
        }
      }
      throw new Error(`OCSP: ${problems.join('; ')}`)
    })().finally(() => this.#asking.delete(key))
    this.#asking.set(key, p)
    return p
  }

  #remember (key: string, answer: OcspAnswer): void {
    this.#cache.delete(key)
    this.#cache.set(key, { answer, until: answer.nextUpdate ?? this.#now() + this.#o.cacheMs })
    if (this.#cache.size > MAX_CACHED) this.#cache.delete(this.#cache.keys().next().value!)
  }

  #noAnswer (identity: Identity, why: string): RevocationStatus {
    if (this.#o.unavailable === 'refuse') throw new Error(why)
    this.#o.log?.warn({ evt: 'ocsp.unavailable', cert: identityFields(identity), err: why }, 'no OCSP answer: admitted (--ocsp-unavailable allow)')
    return { revoked: null }
  }

  /** forget every cached answer (tests, an operator who wants them asked again) */
  clear (): void { this.#cache.clear() }

  async revoke (): Promise<number> { throw fgError('FG_ERR_CONFIG_INVALID', 'an OCSP source is read-only: revoke in the revocation store') }
  async revokeMany (): Promise<number> { throw fgError('FG_ERR_CONFIG_INVALID', 'an OCSP source is read-only: revoke in the revocation store') }
  async list (): Promise<RevokedRecord[]> { return [] }
  async watch (_onEvent: (event: RevocationEvent) => void): Promise<void> {}
  async close (): Promise<void> { this.#closed = true; this.#cache.clear() }
}
