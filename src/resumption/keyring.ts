// Ticket keys by rotation epoch. Epoch e runs from e*rotation to (e+1)*rotation
// (wall clock, so every node agrees without talking). Tickets are sealed with the
// current epoch's key; the previous epoch's is accepted (and the ticket renewed),
// and the next one too (a node whose clock runs ahead). Each key is derived from
// the epoch's secret (the ticket secret store), a digest of the server's private
// key (so the store alone, e.g. read access to Redis, cannot seal a ticket: a
// sealed ticket names any identity) and the digest of the trust bundle (a reload
// that changes the bundle or the key makes every earlier ticket unknown).
import { createHash, hkdfSync } from 'node:crypto'
import type { TicketKey, TicketKeySource } from '../tls/index.js'

const INFO = Buffer.from('fleetgate tls ticket keys v1')

/** SHA-256 over the DER of every certificate of the trust bundle, in order */
export function bundleDigest (caDer: readonly Uint8Array[]): Buffer {
  const h = createHash('sha256')
  for (const der of caDer) h.update(createHash('sha256').update(der).digest())
  return h.digest()
}

/** what besides the epoch's secret goes into every ticket key */
export interface TicketTrust {
  /** the trust bundle (DER) */
  readonly caDer: readonly Uint8Array[]
  /** the server key's digest (tls material keySeed) */
  readonly keySeed: Uint8Array
}

/** the key of one epoch: HKDF-SHA256(ikm = secret | key seed, salt = bundle digest) -> name | HMAC key | AES key */
export function deriveTicketKey (secret: Uint8Array, keySeed: Uint8Array, digest: Uint8Array): TicketKey {
  const okm = Buffer.from(hkdfSync('sha256', Buffer.concat([secret, keySeed]), digest, INFO, 48))
  return Object.freeze({ name: okm.subarray(0, 16), hmac: okm.subarray(16, 32), aes: okm.subarray(32, 48) })
}

export class TicketKeyring implements TicketKeySource {
  readonly rotationMs: number
  readonly #now: () => number
  readonly #secrets = new Map<number, Uint8Array>()
  readonly #keys = new Map<number, TicketKey>()
  /** name (hex) -> epoch */
  readonly #names = new Map<string, number>()
  #digest: Buffer
  #keySeed: Uint8Array

  constructor (opts: { rotationMs: number; trust: TicketTrust; now?: () => number }) {
    this.rotationMs = opts.rotationMs
    this.#now = opts.now ?? Date.now
    this.#digest = bundleDigest(opts.trust.caDer)
    this.#keySeed = opts.trust.keySeed
  }

  epochAt (ms: number): number { return Math.floor(ms / this.rotationMs) }
  get epoch (): number { return this.epochAt(this.#now()) }

  /** the epochs whose secrets a node should hold now: previous, current, next */
  wanted (): number[] { const e = this.epoch; return [e - 1, e, e + 1] }

  has (epoch: number): boolean { return this.#secrets.has(epoch) }

  /** the secret of an epoch (from the store); epochs outside previous..next are forgotten */
  add (epoch: number, secret: Uint8Array): void {
    this.#secrets.set(epoch, secret)
    this.#derive(epoch, secret)
    this.prune()
  }

  /** a new trust bundle or server key: every key derived again (earlier tickets no longer open) */
  retrust (trust: TicketTrust): void {
    this.#digest = bundleDigest(trust.caDer)
    this.#keySeed = trust.keySeed
    this.#keys.clear()
    this.#names.clear()
    for (const [epoch, secret] of this.#secrets) this.#derive(epoch, secret)
  }

  prune (): void {
    const e = this.epoch
    for (const epoch of [...this.#secrets.keys()]) {
      if (epoch >= e - 1 && epoch <= e + 1) continue
      this.#secrets.delete(epoch)
      const key = this.#keys.get(epoch)
      if (key) this.#names.delete(key.name.toString('hex'))
      this.#keys.delete(epoch)
    }
  }

  /** the key of the current epoch; before its secret arrived, the newest one held */
  current (): TicketKey {
    const key = this.#keys.get(this.epoch)
    if (key) return key
    let newest = -Infinity
    for (const epoch of this.#keys.keys()) if (epoch > newest && epoch <= this.epoch + 1) newest = epoch
    const fallback = this.#keys.get(newest)
    if (!fallback) throw new Error('no ticket key held')
    return fallback
  }

  find (name: Buffer): { key: TicketKey; renew: boolean } | null {
    const epoch = this.#names.get(name.toString('hex'))
    if (epoch === undefined) return null
    const e = this.epoch
    if (epoch < e - 1 || epoch > e + 1) return null
    return { key: this.#keys.get(epoch)!, renew: epoch < e }
  }

  #derive (epoch: number, secret: Uint8Array): void {
    const old = this.#keys.get(epoch)
    if (old) this.#names.delete(old.name.toString('hex'))
    const key = deriveTicketKey(secret, this.#keySeed, this.#digest)
    this.#keys.set(epoch, key)
    this.#names.set(key.name.toString('hex'), epoch)
  }
}
