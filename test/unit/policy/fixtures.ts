// Hand-built identities for the policy tests (no certificates needed: the policy is pure).
import type { Identity } from '../../../src/identity/identity.js'
import { parsePolicy, type Grant, type Policy, type PolicyDecision } from '../../../src/policy/index.js'

export const ISSUING = 'fleetgate Issuing CA'
export const MANUFACTURING = 'fleetgate Manufacturing CA'
export const VIN = 'WVWZZZ1JZXW000001'
export const OTHER_VIN = 'WVWZZZ1JZXW000002'

export interface IdentityInput {
  subject?: Record<string, string[]>
  issuer?: Record<string, string[]>
  dns?: string[]
  uri?: string[]
  policies?: string[]
}

export function identity (input: IdentityInput = {}): Identity {
  return {
    subject: input.subject ?? {},
    issuer: input.issuer ?? { CN: [ISSUING] },
    san: { dns: input.dns ?? [], uri: input.uri ?? [], ip: [], email: [] },
    serial: '1',
    fingerprint: 'ab'.repeat(32),
    issuerFingerprint: 'cd'.repeat(32),
    chain: [],
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2035-01-01T00:00:00Z'),
    eku: ['1.3.6.1.5.5.7.3.2'],
    policies: input.policies ?? [],
  }
}

/** subject CN/OU from the issuing CA (or another issuer) */
export function cert (cn: string, ou: string, issuerCn = ISSUING): Identity {
  return identity({ subject: { CN: [cn], OU: [ou] }, issuer: { CN: [issuerCn] } })
}

export function grantOf (d: PolicyDecision): Grant {
  if (!d.ok) throw new Error(`expected a grant, got ${d.reason} (${d.detail ?? ''})`)
  return d.grant
}

export function refusal (d: PolicyDecision): string {
  return d.ok ? `granted role ${d.grant.role}` : d.reason
}

/** a one-role policy, for rule tests */
export function onePolicy (role: string): Policy {
  return parsePolicy(`roles:\n  r:\n${role.replace(/^/gm, '    ')}\n`, 'test.yaml')
}
