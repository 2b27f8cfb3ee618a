// A policy whose name-pinned roles are also pinned by CA key (pure): the dev
// PKI writes the shipped policy this way, because its CAs' keys exist only once
// `pki init` has made them. Each `issuer: { CN: "<name>" }` gains
// `issuerKey: "<SHA-256 of that CA's SubjectPublicKeyInfo>"`.
import { fgError } from '../contract/errors.js'
import { parsePolicy } from './parse.js'

/** `keys`: CA common name -> SPKI SHA-256 hex. Every role pinned by issuer CN must get a key. */
export function pinIssuerKeys (text: string, keys: ReadonlyMap<string, string>, source: string): string {
  const pinned = text.replace(/issuer: \{ CN: "([^"]+)" \}/g, (whole, name: string) => {
    const key = keys.get(name)
    if (key === undefined) throw fgError('FG_ERR_POLICY_INVALID', `${source}: no key for the CA named "${name}"`)
    return `${whole}, issuerKey: "${key}"`
  })
  const roles = parsePolicy(pinned, source) // what it writes must load
  if (roles.roles.length === 0) throw fgError('FG_ERR_POLICY_INVALID', `${source}: no roles`)
  return pinned
}
