// The Redis revocation schema (README "Redis schema"), as values:
// key names, the entry JSON, the announcement messages. Pure: no I/O. The file
// store uses the same encodings so both stores read and print alike.
import { normaliseSerial } from '../identity/index.js'
import type { RevocationEntry, RevocationTarget, RevokedRecord, StateEntry } from '../stores/revocations.js'
import type { RegistryRecord } from '../stores/registry.js'
import { DEFAULT_PREFIX } from '../stores/open.js'

export { DEFAULT_PREFIX }

export interface Keys {
  readonly cert: string
  serial (issuerFp: string): string
  readonly serialPattern: string
  registry (vin: string): string
  readonly revocations: string
  readonly certificates: string
  // the provisioner's own state, beside the registry (provisioning/redis-state.ts)
  /** hash nonce -> the issued response JSON */
  nonces (vin: string): string
  /** the provisioner handling (VIN, nonce) now */
  claim (vin: string, nonce: string): string
  /** counter of the VIN's fixed window on one channel (provision: birth certificate, rotate: operational certificate) */
  rateLimit (channel: 'provision' | 'rotate', vin: string): string
  /** sorted set "<VIN>|<fingerprint>" scored by the due time (ms) */
  readonly retire: string
  /** hash fingerprint -> state JSON (README "Certificate states") */
  readonly stateCert: string
  /** hash serial -> state JSON, one per issuer fingerprint */
  stateSerial (issuerFp: string): string
  /** the operator log, a stream (README "Operator log") */
  readonly oplog: string
}

export function keysFor (prefix: string = DEFAULT_PREFIX): Keys {
  return {
    cert: `${prefix}revoked:cert`,
    serial: (issuer) => `${prefix}revoked:serial:${issuer}`,
    serialPattern: `${prefix}revoked:serial:*`,
    registry: (vin) => `${prefix}certs:${vin}`,
    revocations: `${prefix}revocations`,
    certificates: `${prefix}certificates`,
    nonces: (vin) => `${prefix}nonces:${vin}`,
    claim: (vin, nonce) => `${prefix}claim:${vin}:${nonce}`,
    rateLimit: (channel, vin) => `${prefix}ratelimit:${channel}:${vin}`,
    retire: `${prefix}retire`,
    stateCert: `${prefix}state:cert`,
    stateSerial: (issuer) => `${prefix}state:serial:${issuer}`,
    oplog: `${prefix}oplog`,
  }
}

/** RFC 5280 CRLReason names (plus the free-form ones operators use) */
export const REVOCATION_REASONS = [
  'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation',
  'certificateHold', 'removeFromCRL', 'privilegeWithdrawn', 'aACompromise',
] as const

const FINGERPRINT = /^[0-9a-f]{64}$/

/** lowercase hex SHA-256, or null; accepts upper case and openssl's `AB:CD:...` */
export function normaliseFingerprint (text: string): string | null {
  const hex = text.trim().toLowerCase().replace(/^sha256 fingerprint=/, '').replace(/:/g, '')
  return FINGERPRINT.test(hex) ? hex : null
}

/**
 * The spellings of one serial that a lookup tries: the contract's form (lowercase,
 * no leading zeros) and what `openssl x509 -serial` / `openssl crl -text` print
 * (upper case, padded to whole bytes), for external writers that stored it verbatim.
 */
export function serialSpellings (serial: string): string[] {
  const upper = (serial.length % 2 === 1 ? '0' + serial : serial).toUpperCase()
  return upper === serial ? [serial] : [serial, upper]
}

export function encodeEntry (entry: RevocationEntry): string {
  return JSON.stringify({ reason: entry.reason, revokedAt: entry.revokedAt })
}

/** A stored value; an external writer's odd value still means "revoked" (fail closed). */
export function decodeEntry (value: string): RevocationEntry {
  try {
    const o = JSON.parse(value) as Partial<RevocationEntry>
    return { reason: typeof o.reason === 'string' ? o.reason : 'unspecified', revokedAt: typeof o.revokedAt === 'string' ? o.revokedAt : '' }
  } catch {
    return { reason: 'unspecified', revokedAt: '' }
  }
}

export function encodeAnnouncement (target: RevocationTarget): string {
  return 'fingerprint' in target ? JSON.stringify({ fingerprint: target.fingerprint }) : JSON.stringify({ issuer: target.issuer, serial: target.serial })
}

/** A message on <prefix>revocations; null when it is not one (the caller re-checks everything then). */
export function decodeAnnouncement (message: string): RevocationTarget | null {
  let o: unknown
  try { o = JSON.parse(message) } catch { return null }
  if (typeof o !== 'object' || o === null) return null
  const m = o as Record<string, unknown>
  if (typeof m.fingerprint === 'string') {
    const fingerprint = normaliseFingerprint(m.fingerprint)
    return fingerprint ? { fingerprint } : null
  }
  if (typeof m.issuer === 'string' && typeof m.serial === 'string') {
    const issuer = normaliseFingerprint(m.issuer)
    const serial = normaliseSerial(m.serial)
    return issuer && serial ? { issuer, serial } : null
  }
  return null
}

export interface FirstConnect { readonly vin: string; readonly fingerprint: string; readonly event: 'first_connect' }

export function encodeFirstConnect (vin: string, fingerprint: string): string {
  return JSON.stringify({ vin, fingerprint, event: 'first_connect' })
}

export function decodeFirstConnect (message: string): FirstConnect | null {
  try {
    const o = JSON.parse(message) as Record<string, unknown>
    if (o.event !== 'first_connect' || typeof o.vin !== 'string' || typeof o.fingerprint !== 'string') return null
    return { vin: o.vin, fingerprint: o.fingerprint, event: 'first_connect' }
  } catch {
    return null
  }
}

const STATES = new Set(['issued', 'active', 'superseded', 'revoked'])

export function encodeRegistry (record: RegistryRecord): string {
  return JSON.stringify({ serial: record.serial, notAfter: record.notAfter, issuedAt: record.issuedAt, state: record.state, ...(record.nonce !== undefined ? { nonce: record.nonce } : {}) })
}

export function decodeRegistry (value: string): RegistryRecord | null {
  try {
    const o = JSON.parse(value) as Record<string, unknown>
    if (typeof o.state !== 'string' || !STATES.has(o.state)) return null
    return {
      serial: String(o.serial ?? ''), notAfter: String(o.notAfter ?? ''), issuedAt: String(o.issuedAt ?? ''), state: o.state as RegistryRecord['state'],
      ...(typeof o.nonce === 'string' ? { nonce: o.nonce } : {}),
    }
  } catch {
    return null
  }
}

/** stable text key of a target (caches, indexes) */
export function targetKey (target: RevocationTarget): string {
  return 'fingerprint' in target ? `fp:${target.fingerprint}` : `sn:${target.issuer}:${target.serial}`
}

/** one line of `revocations list` */
export function describeRecord (r: RevokedRecord): string {
  const what = 'fingerprint' in r ? `fingerprint ${r.fingerprint}` : `issuer ${r.issuer} serial ${r.serial}`
  return `${what} reason ${r.reason} revokedAt ${r.revokedAt || '-'}`
}

/** the operator log's actions */
export const OPERATOR_ACTIONS = ['revoke', 'deactivate', 'quarantine', 'activate'] as const

export function encodeState (entry: StateEntry): string {
  return JSON.stringify({ state: entry.state, at: entry.at, by: entry.by, reason: entry.reason })
}

/**
 * A stored state value. Fail closed: a value that is not a known state (an
 * external writer's typo) still keeps the certificate out, as `inactive`.
 */
export function decodeState (value: string): StateEntry {
  try {
    const o = JSON.parse(value) as Record<string, unknown>
    const state = o.state === 'quarantined' ? 'quarantined' : 'inactive'
    return { state, at: typeof o.at === 'string' ? o.at : '', by: typeof o.by === 'string' ? o.by : '', reason: typeof o.reason === 'string' ? o.reason : '' }
  } catch {
    return { state: 'inactive', at: '', by: '', reason: '' }
  }
}

/**
 * A state announcement on <prefix>revocations carries "state" beside the target
 * ({"fingerprint":"..","state":"inactive"}); null when the message is not one.
 */
export function decodeStateAnnouncement (message: string): RevocationTarget | null {
  let o: unknown
  try { o = JSON.parse(message) } catch { return null }
  if (typeof o !== 'object' || o === null || typeof (o as Record<string, unknown>).state !== 'string') return null
  return decodeAnnouncement(message)
}

export function encodeStateAnnouncement (target: RevocationTarget, state: string): string {
  return 'fingerprint' in target ? JSON.stringify({ fingerprint: target.fingerprint, state }) : JSON.stringify({ issuer: target.issuer, serial: target.serial, state })
}

/** a target as one line names it */
export function describeTarget (t: RevocationTarget): string {
  return 'fingerprint' in t ? `fingerprint ${t.fingerprint}` : `issuer ${t.issuer} serial ${t.serial}`
}
