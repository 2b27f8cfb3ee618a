// Which live sessions a new policy and trust bundle still admit (pure).
import type { Identity } from '../identity/index.js'
import type { Grant, Policy } from '../policy/index.js'

export type Verdict =
  | { readonly keep: true; readonly grant: Grant }
  | { readonly keep: false; readonly reason: 'policy_changed'; readonly detail: string }

/** Re-decide one session as if it connected now, without a new handshake. */
/** `as`: the role the session is judged under instead of its own (quarantine), kept across the reload */
export function reconsider (identity: Identity, clientId: string, policy: Policy, trusted: ReadonlySet<string>, as?: string): Verdict {
  // The chain was verified against the old bundle; it must still reach a CA of the new one.
  if (!identity.chain.some((ca) => trusted.has(ca.fingerprint))) {
    return { keep: false, reason: 'policy_changed', detail: 'chain no longer reaches the trust bundle' }
  }
  const d = policy.resolve(identity, clientId, as)
  if (!d.ok) return { keep: false, reason: 'policy_changed', detail: d.reason }
  return { keep: true, grant: d.grant }
}
