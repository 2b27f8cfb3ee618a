// Policy text -> Policy. Pure: validation happens here, once, so a bad file
// never half-starts a broker; resolve() then only reads the compiled roles.
import { resolve } from './resolve.js'
import { readPolicy } from './schema.js'
import type { Identity } from '../identity/identity.js'
import type { Policy, PolicyDecision } from './types.js'

/** `source` is the file name (or a label) used in error messages. Throws FleetgateError. */
export function parsePolicy (text: string, source: string): Policy {
  const roles = Object.freeze(readPolicy(text, source))
  // resolve() is a pure function of the roles, the identity and the clientId. An identity
  // is one frozen object per certificate for as long as the broker keeps it (its identity
  // cache), so a car that comes back with the same clientId gets the decision made at its
  // last CONNECT, grant included (a grant holds no per-connection state that matters: its
  // memos are answers for a topic). A reload parses a new Policy: nothing carries over.
  const decided = new WeakMap<Identity, { readonly clientId: string; readonly decision: PolicyDecision }>()
  return Object.freeze({
    source,
    roles: Object.freeze(roles.map(r => r.name)),
    resolve: (identity, clientId, as) => {
      // a role named by the caller (quarantine) is decided afresh: rare, and not the cached one
      if (as !== undefined) return resolve(roles, identity, clientId, as)
      const last = decided.get(identity)
      if (last !== undefined && last.clientId === clientId) return last.decision
      const decision = resolve(roles, identity, clientId)
      decided.set(identity, { clientId, decision })
      return decision
    },
  } satisfies Policy)
}
