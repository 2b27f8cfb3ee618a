// The one place fleetgate reaches into Node's TLS internals: the session ticket
// key callback of a tls.Server's SecureContext. Node's public API holds one
// ticket key (ticketKeys / setTicketKeys), so a rotation would make every ticket
// issued under the previous key useless at once; OpenSSL's ticket key callback
// (the one nginx uses for its list of keys) finds the key by the name written in
// the ticket. Node exposes it on the native context as enableTicketKeyCallback +
// onticketkeycallback (kept for Node's own test-https-resume-after-renew; same
// shape in Node 20 and 24: (name, iv, encrypt) -> [result, hmacKey, aesKey,
// name?, iv?]). Where it is missing, the public single key is used instead and
// the previous key is not accepted after a rotation.
import { randomFillSync } from 'node:crypto'
import type { Server } from 'node:tls'

/** The three 16-byte parts of a ticket key, as OpenSSL's callback takes them. */
export interface TicketKey { readonly name: Buffer; readonly hmac: Buffer; readonly aes: Buffer }

export interface TicketKeySource {
  /** the key new tickets are sealed with */
  current (): TicketKey
  /** the key a ticket names; `renew`: still accepted, but the client gets a ticket under the current key */
  find (name: Buffer): { readonly key: TicketKey; readonly renew: boolean } | null
}

/** the 48 bytes of Node's ticketKeys option: name, HMAC key, AES key */
export function ticketKeysBuffer (key: TicketKey): Buffer {
  return Buffer.concat([key.name, key.hmac, key.aes])
}

interface NativeContext {
  enableTicketKeyCallback?: () => void
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => unknown[]
}

const ZERO = Buffer.alloc(16)

// A ticket's IV: 16 fresh random bytes each, cut from a pool filled 256 at a time
// (randomBytes(16) per ticket cost ~20 µs of a resumed connect). OpenSSL copies the
// IV during the callback, so a slice is never read after the pool is refilled.
const IV_POOL = Buffer.alloc(16 * 256)
let ivNext = IV_POOL.length
function nextIv (): Buffer {
  if (ivNext === IV_POOL.length) { randomFillSync(IV_POOL); ivNext = 0 }
  const iv = IV_POOL.subarray(ivNext, ivNext + 16)
  ivNext += 16
  return iv
}
// OpenSSL: 1 = key found, 2 = found and renew the ticket, 0 = unknown (a full handshake)
const FOUND = 1
const RENEW = 2
const UNKNOWN = 0

function nativeContext (server: Server): NativeContext | undefined {
  const creds = (server as unknown as { _sharedCreds?: { context?: NativeContext } })._sharedCreds
  return creds?.context
}

/** the callback OpenSSL calls for every ticket sealed or opened; it never throws into OpenSSL */
export function ticketKeyCallback (source: TicketKeySource): (name: Buffer, iv: Buffer, encrypt: boolean) => unknown[] {
  return function onTicketKey (name, _iv, encrypt) {
    try {
      if (encrypt) {
        const key = source.current()
        return [FOUND, key.hmac, key.aes, key.name, nextIv()]
      }
      const found = source.find(name)
      // an unknown name (another bundle, a rotated-out key, a forged ticket): a full handshake
      if (found === null) return [UNKNOWN, ZERO, ZERO]
      return [found.renew ? RENEW : FOUND, found.key.hmac, found.key.aes]
    } catch {
      // sealing: no ticket this time (OpenSSL sends none); opening: a full handshake
      return encrypt ? [UNKNOWN, ZERO, ZERO, ZERO, ZERO] : [UNKNOWN, ZERO, ZERO]
    }
  }
}

/**
 * Seal and open the server's tickets with `source`'s keys, and again after every
 * setSecureContext (a reload makes a new context). Returns false when this Node
 * has no ticket key callback: then only source.current() is set (refresh() sets
 * it again after a rotation).
 */
export function installTicketKeys (server: Server, source: TicketKeySource): { readonly multiKey: boolean; refresh (): void } {
  const callback = ticketKeyCallback(source)
  const install = (): boolean => {
    const ctx = nativeContext(server)
    if (ctx && typeof ctx.enableTicketKeyCallback === 'function') {
      ctx.enableTicketKeyCallback()
      ctx.onticketkeycallback = callback
      return true
    }
    server.setTicketKeys(ticketKeysBuffer(source.current()))
    return false
  }
  let multiKey = install()
  const setSecureContext = server.setSecureContext.bind(server)
  server.setSecureContext = (options) => { setSecureContext(options); multiKey = install() }
  return {
    get multiKey () { return multiKey },
    refresh () { if (!multiKey) server.setTicketKeys(ticketKeysBuffer(source.current())) },
  }
}
