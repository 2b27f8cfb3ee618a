// Connect-time identity checks that do not depend on the policy (ARCHITECTURE.md step 2).
import type { Identity } from './identity.js'
import { EKU_CLIENT_AUTH } from './eku.js'

/**
 * A certificate value (or a client-chosen clientId) that may fill a topic
 * template must not change the topic's shape: `+` and `#` are MQTT wildcards,
 * `/` a level separator (wildcard injection would widen a client's ACL); no
 * C0 or C1 control character or DEL either (also keeps audit lines one line).
 */
export function isSafeIdentityValue (s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // C0 controls incl. NUL, DEL, C1 controls; '#' 35, '+' 43, '/' 47
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || c === 35 || c === 43 || c === 47) return false
  }
  return true
}

function isSafeValue (value: string): boolean {
  return value.length > 0 && isSafeIdentityValue(value)
}

export type IdentityCheck = { ok: true } | { ok: false; reason: 'no_client_auth' | 'identity_injection'; detail: string }

const CLEAN: IdentityCheck = Object.freeze({ ok: true })

export function checkIdentity (identity: Identity): IdentityCheck {
  // OpenSSL accepts a leaf with no EKU at all for a TLS client: only this stops it.
  if (identity.eku === null) return { ok: false, reason: 'no_client_auth', detail: 'no extendedKeyUsage extension' }
  if (!identity.eku.includes(EKU_CLIENT_AUTH)) return { ok: false, reason: 'no_client_auth', detail: 'extendedKeyUsage lacks clientAuth' }
  for (const [attr, values] of Object.entries(identity.subject)) {
    for (const v of values) if (!isSafeValue(v)) return { ok: false, reason: 'identity_injection', detail: `subject ${attr}` }
  }
  for (const v of identity.san.dns) if (!isSafeValue(v)) return { ok: false, reason: 'identity_injection', detail: 'san dns' }
  return CLEAN
}

export type ValidityCheck = { ok: true } | { ok: false; reason: 'cert_expired'; detail: string }

/**
 * Is the leaf, and every CA above it, within its validity at `now`? A full
 * handshake has OpenSSL check this; a resumed TLS session does not, so the
 * broker asks at every connect (ARCHITECTURE.md step 2).
 */
export function checkValidity (identity: Identity, now: number): ValidityCheck {
  if (now > identity.notAfter.getTime()) return { ok: false, reason: 'cert_expired', detail: `certificate expired ${identity.notAfter.toISOString()}` }
  if (now < identity.notBefore.getTime()) return { ok: false, reason: 'cert_expired', detail: `certificate not valid before ${identity.notBefore.toISOString()}` }
  for (const ca of identity.chain) {
    if (ca.notAfter && now > ca.notAfter.getTime()) return { ok: false, reason: 'cert_expired', detail: `issuing CA ${ca.subject.CN?.[0] ?? ca.fingerprint.slice(0, 16)} expired ${ca.notAfter.toISOString()}` }
    if (ca.notBefore && now < ca.notBefore.getTime()) return { ok: false, reason: 'cert_expired', detail: `issuing CA ${ca.subject.CN?.[0] ?? ca.fingerprint.slice(0, 16)} not valid before ${ca.notBefore.toISOString()}` }
  }
  return { ok: true }
}
