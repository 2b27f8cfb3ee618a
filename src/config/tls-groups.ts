// --tls-groups: the key exchange groups the listener offers. Which names exist
// depends on the OpenSSL under this Node (X25519MLKEM768 needs OpenSSL 3.5, Node
// 24), so a name is checked by asking OpenSSL itself, once, at start.
import { createSecureContext } from 'node:tls'

/** the hybrid post-quantum group (ML-KEM-768 + X25519) */
export const HYBRID_GROUP = 'X25519MLKEM768'

const known = new Map<string, boolean>()

/** Does this runtime's OpenSSL know the group (as a TLS key exchange group)? */
export function isKnownGroup (name: string): boolean {
  let ok = known.get(name)
  if (ok === undefined) {
    try { createSecureContext({ ecdhCurve: name }); ok = true } catch { ok = false }
    known.set(name, ok)
  }
  return ok
}

export type GroupsResult = { ok: true; groups: string } | { ok: false; problem: string }

/**
 * The group list as OpenSSL takes it ("A:B:C"). Given by the operator, an unknown
 * name is a problem; the default keeps only the names this runtime knows (a Node
 * whose OpenSSL predates ML-KEM offers the classic groups).
 */
export function resolveGroups (text: string, given: boolean): GroupsResult {
  const names = text.split(/[:,]/).map((n) => n.trim())
  if (names.some((n) => n === '')) return { ok: false, problem: `empty group name in "${text}"` }
  const odd = names.find((n) => !/^[A-Za-z0-9_-]+$/.test(n))
  if (odd !== undefined) return { ok: false, problem: `"${odd}" is not a group name` }
  const unknown = names.filter((n) => !isKnownGroup(n))
  if (given && unknown.length > 0) {
    return { ok: false, problem: `unknown group ${unknown.map((n) => `"${n}"`).join(', ')} (OpenSSL ${process.versions.openssl} knows e.g. ${['X25519MLKEM768', 'X25519', 'P-256', 'P-384'].filter(isKnownGroup).join(', ')})` }
  }
  const usable = names.filter((n) => isKnownGroup(n))
  if (usable.length === 0) return { ok: false, problem: `no group of "${text}" is known to OpenSSL ${process.versions.openssl}` }
  return { ok: true, groups: [...new Set(usable)].join(':') }
}
