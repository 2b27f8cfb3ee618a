// The car's key list (README "Signed commands", "The car's key list"): which
// keys may command this car, each with a role, a label and, for a time-boxed
// key, an end. A user key is named by the RFC 7638 thumbprint of its public
// JWK (P-256 only); the fleet backend is one entry, named by its certificate
// role (OU), whose role the car's own policy gives it. Every decision here is
// pure: the list, the clock and the command come in, a new list goes out; the
// car persists it (simulator/car-keys.ts).
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint } from 'jose'

/** The roles a key may hold, and what each may send (README "Roles"). */
export const KEY_ROLES = ['owner', 'driver', 'fleet-manager', 'service'] as const
export type KeyRole = typeof KEY_ROLES[number]

/** Commands that change the key list: only an owner key may send them. */
export const KEY_COMMANDS = ['add_key', 'remove_key', 'transfer'] as const
export type KeyCommandName = typeof KEY_COMMANDS[number]

/** The car's own operations (what '*' means in a certificate role table). */
export const VEHICLE_COMMANDS = [
  'lock', 'unlock', 'honk', 'flash_lights', 'climate_on', 'climate_off', 'remote_start', 'set_charge_limit', 'diagnostics',
] as const
export type VehicleCommandName = typeof VEHICLE_COMMANDS[number]

/** What each role may send. Time-boxed: a key of that role must carry `until`. */
export const ROLE_TABLE: Readonly<Record<KeyRole, { readonly commands: readonly string[]; readonly timeBoxed: boolean }>> = Object.freeze({
  owner: { commands: [...VEHICLE_COMMANDS, ...KEY_COMMANDS], timeBoxed: false },
  driver: { commands: ['lock', 'unlock', 'climate_on', 'climate_off', 'set_charge_limit'], timeBoxed: false },
  // the fleet backend's default: every operation of the car, never its key list
  'fleet-manager': { commands: [...VEHICLE_COMMANDS], timeBoxed: false },
  service: { commands: ['diagnostics'], timeBoxed: true },
})

/** Roles an owner may give with add_key (fleet-manager is the backend entry's, set by the car's policy). */
export const ADDABLE_ROLES: readonly KeyRole[] = ['owner', 'driver', 'service']
/** The backend's role when the car's policy names none. */
export const DEFAULT_BACKEND_ROLE: KeyRole = 'fleet-manager'
/** The certificate role (OU) of the fleet backend entry. */
export const BACKEND_OU = 'fleet-backend'
/** At most this many user keys per car (a list is small; add_key past it: bad_args). */
export const MAX_KEYS = 32
export const MAX_LABEL = 64
/** A time-boxed key lives at most this long from when it is added. */
export const MAX_KEY_WINDOW_MS = 90 * 86_400_000

export function isKeyRole (r: unknown): r is KeyRole {
  return typeof r === 'string' && (KEY_ROLES as readonly string[]).includes(r)
}

export function roleAllows (role: KeyRole, cmd: string): boolean {
  return ROLE_TABLE[role].commands.includes(cmd)
}

/** A P-256 public key as a JWK, exactly the RFC 7638 members. */
export interface PublicJwk { readonly kty: 'EC'; readonly crv: 'P-256'; readonly x: string; readonly y: string }

/** One user key of the list. */
export interface UserKey {
  /** RFC 7638 thumbprint (SHA-256, base64url) of `jwk` */
  readonly kid: string
  readonly jwk: PublicJwk
  readonly role: KeyRole
  readonly label: string
  /** ms since the epoch; past it the key is no longer in the list */
  readonly until?: number
  readonly addedAt: number
  /** kid of the owner key that added it; 'local' for the in-car step */
  readonly addedBy: string
}

/** The list as the car keeps it; the backend entry comes from the car's policy (absent once wiped). */
export interface KeyList {
  readonly v: 1
  /** bumped on every change */
  readonly seq: number
  readonly keys: readonly UserKey[]
  /** a scrapped car: no key at all, the backend's entry included */
  readonly wiped: boolean
}

/** One entry as shown (the record a car publishes, `sim backend keys`). */
export interface KeyEntryView {
  /** a user key's thumbprint, or `ou:<OU>` for a certificate role entry */
  readonly kid: string
  readonly role: KeyRole
  readonly label: string
  readonly until?: number
}

export function emptyKeyList (): KeyList {
  return { v: 1, seq: 0, keys: [], wiped: false }
}

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/
/** a kid header or argument: a SHA-256 thumbprint, base64url without padding */
export function isThumbprint (s: unknown): s is string {
  return typeof s === 'string' && B64URL_32.test(s)
}

/** The public JWK's shape problem, or null: exactly kty EC, crv P-256, x, y (32 bytes each, on the curve). */
export function publicJwkProblem (jwk: unknown): string | null {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'jwk is not an object'
  const o = jwk as Record<string, unknown>
  const keys = Object.keys(o).sort().join(',')
  if (keys !== 'crv,kty,x,y') return 'jwk members are not exactly kty, crv, x, y (a P-256 public key)'
  if (o.kty !== 'EC' || o.crv !== 'P-256') return 'jwk is not an EC P-256 key'
  if (!isThumbprint(o.x) || !isThumbprint(o.y)) return 'jwk x or y is not 32 bytes of base64url'
  let canonical: JsonWebKey
  try {
    canonical = createPublicKey({ key: o as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' })
  } catch {
    return 'jwk is not a point on P-256'
  }
  // 43 base64url characters carry 2 spare bits: up to 16 spellings of one point, each with
  // its own RFC 7638 thumbprint (the thumbprint hashes the text). Only the canonical one.
  if (canonical.x !== o.x || canonical.y !== o.y) return 'jwk x or y is not in canonical base64url (its spare bits are set)'
  return null
}

export function jwkKey (jwk: PublicJwk): KeyObject {
  return createPublicKey({ key: { ...jwk }, format: 'jwk' })
}

/** RFC 7638 thumbprint (SHA-256, base64url), with jose. */
export async function thumbprintOf (jwk: PublicJwk): Promise<string> {
  return await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, 'sha256')
}

/** The public JWK of a P-256 key (private or public KeyObject). */
export function publicJwkOf (key: KeyObject): PublicJwk {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  const j = pub.export({ format: 'jwk' })
  if (j.kty !== 'EC' || j.crv !== 'P-256' || typeof j.x !== 'string' || typeof j.y !== 'string') throw new TypeError('not a P-256 key')
  return { kty: 'EC', crv: 'P-256', x: j.x, y: j.y }
}

function labelProblem (label: unknown): string | null {
  // eslint-disable-next-line no-control-regex
  if (typeof label !== 'string' || label.length === 0 || label.length > MAX_LABEL || /[\u0000-\u001f\u007f-\u009f]/.test(label)) {
    return `label is not 1-${MAX_LABEL} printable characters`
  }
  return null
}

/** Shape of add_key args: {jwk, role, label[, until]} (state-free; the list's own rules come in planKeyChange). */
export function addKeyArgsProblem (args: Readonly<Record<string, unknown>>): string | null {
  const keys = Object.keys(args)
  if (!keys.every((k) => ['jwk', 'role', 'label', 'until'].includes(k)) || !['jwk', 'role', 'label'].every((k) => keys.includes(k))) {
    return 'add_key args are not {jwk, role, label[, until]}'
  }
  const jwk = publicJwkProblem(args.jwk)
  if (jwk !== null) return jwk
  if (!isKeyRole(args.role) || !ADDABLE_ROLES.includes(args.role)) return `role is not one of ${ADDABLE_ROLES.join(', ')}`
  const label = labelProblem(args.label)
  if (label !== null) return label
  if (args.until !== undefined && !(Number.isSafeInteger(args.until) && (args.until as number) > 0)) return 'until is not an integer of ms'
  if (ROLE_TABLE[args.role].timeBoxed && args.until === undefined) return `a ${args.role} key must be time-boxed (until)`
  return null
}

export function removeKeyArgsProblem (args: Readonly<Record<string, unknown>>): string | null {
  const keys = Object.keys(args)
  if (keys.length !== 1 || keys[0] !== 'kid' || !isThumbprint(args.kid)) return 'remove_key args are not {kid: <thumbprint>}'
  return null
}

export function transferArgsProblem (args: Readonly<Record<string, unknown>>): string | null {
  const keys = Object.keys(args).sort().join(',')
  if (keys !== 'jwk,label') return 'transfer args are not {jwk, label}'
  return publicJwkProblem(args.jwk) ?? labelProblem(args.label)
}

/** The key of the list with this kid, live at `now`. */
export function findKey (list: KeyList, kid: string, now: number): UserKey | { expired: UserKey } | undefined {
  if (list.wiped) return undefined
  const k = list.keys.find((e) => e.kid === kid)
  if (k === undefined) return undefined
  if (k.until !== undefined && now > k.until) return { expired: k }
  return k
}

/** The role of the certificate role entry for `ou` (the backend), or undefined when the list has none. */
export function certificateRole (list: KeyList, ou: string | undefined, backendRole: KeyRole): KeyRole | undefined {
  if (list.wiped || ou !== BACKEND_OU) return undefined
  return backendRole
}

/** The list as shown: the backend entry (from the car's policy) first, then the live user keys. */
export function keyListView (list: KeyList, backendRole: KeyRole, now: number): KeyEntryView[] {
  if (list.wiped) return []
  const out: KeyEntryView[] = [{ kid: `ou:${BACKEND_OU}`, role: backendRole, label: 'fleet backend' }]
  for (const k of list.keys) {
    if (k.until !== undefined && now > k.until) continue
    out.push(k.until === undefined ? { kid: k.kid, role: k.role, label: k.label } : { kid: k.kid, role: k.role, label: k.label, until: k.until })
  }
  return out
}

/** What a key command did to the list (in the car's signed result). */
export interface KeyChange {
  readonly op: KeyCommandName | 'pair' | 'wipe'
  /** the key added, removed, or the new owner's */
  readonly kid?: string
  readonly role?: KeyRole
  readonly label?: string
  readonly until?: number
  /** the list's seq after the change */
  readonly seq: number
}

export type KeyPlan = { ok: true; list: KeyList; change: KeyChange } | { ok: false; detail: string }

function live (list: KeyList, now: number): UserKey[] {
  return list.keys.filter((k) => k.until === undefined || now <= k.until)
}

/**
 * The new list after one key command whose args passed their shape check, or why the list refuses it
 * (bad_args): a key already there, the list full, a window in the past or too long, the last owner removed.
 */
export async function planKeyChange (list: KeyList, cmd: KeyCommandName, args: Readonly<Record<string, unknown>>, by: string, now: number): Promise<KeyPlan> {
  const keys = live(list, now)
  switch (cmd) {
    case 'add_key': {
      const jwk = args.jwk as PublicJwk
      const kid = await thumbprintOf(jwk)
      if (keys.some((k) => k.kid === kid)) return { ok: false, detail: 'the key is already in the list (remove it first to change its role)' }
      if (keys.length >= MAX_KEYS) return { ok: false, detail: `the list holds ${MAX_KEYS} keys already` }
      const until = args.until as number | undefined
      if (until !== undefined && until <= now) return { ok: false, detail: 'until is in the past' }
      if (until !== undefined && until - now > MAX_KEY_WINDOW_MS) return { ok: false, detail: 'until is more than 90 days away' }
      const role = args.role as KeyRole
      const label = args.label as string
      const entry: UserKey = { kid, jwk: pickJwk(jwk), role, label, ...(until !== undefined ? { until } : {}), addedAt: now, addedBy: by }
      const next: KeyList = { v: 1, seq: list.seq + 1, keys: [...keys, entry], wiped: false }
      return { ok: true, list: next, change: { op: 'add_key', kid, role, label, ...(until !== undefined ? { until } : {}), seq: next.seq } }
    }
    case 'remove_key': {
      const kid = args.kid as string
      const target = keys.find((k) => k.kid === kid)
      if (target === undefined) return { ok: false, detail: 'no such key in the list' }
      if (target.role === 'owner' && keys.filter((k) => k.role === 'owner').length === 1) return { ok: false, detail: 'the last owner key cannot be removed (transfer the car instead)' }
      const next: KeyList = { v: 1, seq: list.seq + 1, keys: keys.filter((k) => k.kid !== kid), wiped: false }
      return { ok: true, list: next, change: { op: 'remove_key', kid, role: target.role, label: target.label, seq: next.seq } }
    }
    case 'transfer':
      return await transferTo(list, args.jwk as PublicJwk, args.label as string, by, now)
  }
}

function pickJwk (j: PublicJwk): PublicJwk {
  return { kty: j.kty, crv: j.crv, x: j.x, y: j.y }
}

/** A change of owner: every user key goes, the backend entry stays, the new owner is enrolled. */
export async function transferTo (list: KeyList, jwk: PublicJwk, label: string, by: string, now: number): Promise<KeyPlan> {
  const problem = publicJwkProblem(jwk) ?? labelProblem(label)
  if (problem !== null) return { ok: false, detail: problem }
  const kid = await thumbprintOf(jwk)
  const owner: UserKey = { kid, jwk: pickJwk(jwk), role: 'owner', label, addedAt: now, addedBy: by }
  const next: KeyList = { v: 1, seq: list.seq + 1, keys: [owner], wiped: false }
  return { ok: true, list: next, change: { op: 'transfer', kid, role: 'owner', label, seq: next.seq } }
}

/** The in-car step (a key card tapped): enrol `jwk` as an owner; nothing changes when it is one already. */
export async function pairOwner (list: KeyList, jwk: PublicJwk, label: string, now: number): Promise<KeyPlan> {
  const problem = publicJwkProblem(jwk) ?? labelProblem(label)
  if (problem !== null) return { ok: false, detail: problem }
  const kid = await thumbprintOf(jwk)
  const keys = live(list, now)
  const there = keys.find((k) => k.kid === kid)
  if (there?.role === 'owner') return { ok: true, list, change: { op: 'pair', kid, role: 'owner', label: there.label, seq: list.seq } }
  if (keys.length >= MAX_KEYS && there === undefined) return { ok: false, detail: `the list holds ${MAX_KEYS} keys already` }
  const owner: UserKey = { kid, jwk: pickJwk(jwk), role: 'owner', label, addedAt: now, addedBy: 'local' }
  const next: KeyList = { v: 1, seq: list.seq + 1, keys: [...keys.filter((k) => k.kid !== kid), owner], wiped: false }
  return { ok: true, list: next, change: { op: 'pair', kid, role: 'owner', label, seq: next.seq } }
}

/** A scrapped car: no key at all, not even the backend's. */
export function wipeKeyList (list: KeyList): { list: KeyList; change: KeyChange } {
  const next: KeyList = { v: 1, seq: list.seq + 1, keys: [], wiped: true }
  return { list: next, change: { op: 'wipe', seq: next.seq } }
}

/** A list read back from storage, checked entry by entry; null when it is not one. */
export function parseKeyList (raw: unknown): KeyList | null {
  if (typeof raw !== 'object' || raw === null) return null
  const o = raw as Record<string, unknown>
  if (o.v !== 1 || !Number.isSafeInteger(o.seq) || !Array.isArray(o.keys) || typeof o.wiped !== 'boolean') return null
  const keys: UserKey[] = []
  for (const e of o.keys as unknown[]) {
    if (typeof e !== 'object' || e === null) return null
    const k = e as Record<string, unknown>
    if (!isThumbprint(k.kid) || publicJwkProblem(k.jwk) !== null || !isKeyRole(k.role) || labelProblem(k.label) !== null) return null
    if (k.until !== undefined && !Number.isSafeInteger(k.until)) return null
    if (!Number.isSafeInteger(k.addedAt) || typeof k.addedBy !== 'string') return null
    keys.push(k as unknown as UserKey)
  }
  return { v: 1, seq: o.seq as number, keys, wiped: o.wiped }
}
