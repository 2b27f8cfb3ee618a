// Real identities for the check tests: parsed by src/identity from certificates
// of the in-memory test PKI (test/unit/commands/fixtures.ts), no socket.
import { IdentityCache, type Identity } from '../../../src/identity/index.js'
import type { CaMaterial, IssuedCertificate } from '../../../src/pki/index.js'

const cache = new IdentityCache()

/** The identity a TLS peer presenting `leaf` with `cas` (issuing CA first, root last) has. */
export function identityOf (leaf: IssuedCertificate, ...cas: CaMaterial[]): Identity {
  return cache.fromChain([leaf.cert, ...cas.map((ca) => ca.cert)]).identity
}
