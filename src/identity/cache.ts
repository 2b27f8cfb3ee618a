// Identities cached by leaf fingerprint (a reconnecting car is not parsed again)
// and CA certificates parsed once.
import type { CaInfo, Identity } from './identity.js'
import { caInfoOf, identityFromChain, sha256Hex } from './parse.js'
import { checkIdentity, type IdentityCheck } from './checks.js'

export interface CachedIdentity { readonly identity: Identity; readonly check: IdentityCheck }

export class IdentityCache {
  readonly #leaves = new Map<string, CachedIdentity>()
  readonly #cas = new Map<string, CaInfo>()
  readonly #max: number

  constructor (max = 50_000) { this.#max = max }

  /** the cached identity of this leaf fingerprint (a reconnect), refreshed as recently used */
  get (fingerprint: string): CachedIdentity | undefined {
    const hit = this.#leaves.get(fingerprint)
    if (hit) { this.#leaves.delete(fingerprint); this.#leaves.set(fingerprint, hit) }
    return hit
  }

  /** chainDer: leaf first, then each CA up to the root, every link verified; `leafFingerprint` if the caller has it. */
  fromChain (chainDer: readonly Buffer[], leafFingerprint?: string, cacheKey?: string): CachedIdentity {
    const fp = leafFingerprint ?? sha256Hex(chainDer[0]!)
    const key = cacheKey ?? fp
    const hit = this.get(key)
    if (hit) return hit
    const identity = identityFromChain(chainDer, (der) => this.#ca(der, chainDer), fp)
    const entry = Object.freeze({ identity, check: checkIdentity(identity) })
    this.#leaves.set(key, entry)
    if (this.#leaves.size > this.#max) this.#leaves.delete(this.#leaves.keys().next().value!)
    return entry
  }

  /** the same CA Buffer comes back with every leaf it issued (pki's ChainVerifier keeps it): not hashed again */
  #casByBuffer = new WeakMap<Uint8Array, CaInfo>()

  #ca (der: Uint8Array, chain: readonly Buffer[]): CaInfo {
    const known = this.#casByBuffer.get(der)
    if (known) return known
    const fp = sha256Hex(der)
    let info = this.#cas.get(fp)
    if (!info) {
      const i = chain.findIndex((c) => c.equals(der))
      const above = i >= 0 && i + 1 < chain.length ? chain[i + 1]! : null
      info = caInfoOf(der, above)
      if (this.#cas.size < 10_000) this.#cas.set(fp, info)
    }
    this.#casByBuffer.set(der, info)
    return info
  }

  /** forget one entry (a cached chain that no longer holds: decided again) */
  delete (key: string): void { this.#leaves.delete(key) }

  clear (): void { this.#leaves.clear(); this.#cas.clear(); this.#casByBuffer = new WeakMap() }
}
