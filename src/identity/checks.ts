// Connect-time identity checks that do not depend on the policy (DESIGN step 2).
import type { Identity } from './identity.js'

export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1'

// `+` and `#` are MQTT wildcards, `/` a level separator: any of them in a value
// that fills a topic template would widen a client's ACL (wildcard injection).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[+#/\u0000-\u001f\u007f]/

export function isSafeValue (value: string): boolean {
  return value.length > 0 && !UNSAFE.test(value)
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
