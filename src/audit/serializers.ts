// Allowlist serializers: never a raw Client, packet or certificate in a log line.
import type { Identity } from '../identity/index.js'

export function identityFields (identity: Identity): { cn?: string; ou?: string; serial: string; fp: string } {
  return { cn: identity.subject.CN?.[0], ou: identity.subject.OU?.[0], serial: identity.serial, fp: identity.fingerprint }
}

/** Client-chosen strings are clipped and kept under our own keys. */
export function clip (value: unknown, max = 128): string | undefined {
  if (typeof value !== 'string') return undefined
  return value.length > max ? value.slice(0, max) + '…' : value
}
