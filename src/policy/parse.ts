// Policy text -> Policy. Pure: validation happens here, once, so a bad file
// never half-starts a broker; resolve() then only reads the compiled roles.
import { resolve } from './resolve.js'
import { readPolicy } from './schema.js'
import type { Policy } from './types.js'

/** `source` is the file name (or a label) used in error messages. Throws FleetgateError. */
export function parsePolicy (text: string, source: string): Policy {
  const roles = Object.freeze(readPolicy(text, source))
  return Object.freeze({
    source,
    roles: Object.freeze(roles.map(r => r.name)),
    resolve: (identity, clientId) => resolve(roles, identity, clientId),
  } satisfies Policy)
}
