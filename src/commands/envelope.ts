// The wire shape of a signed command and of a signed result (README "Signed
// commands"): JWS compact, ES256, x5c (a certificate signed it) or, for a
// command only, kid (a key of the car's list, by its RFC 7638 thumbprint). Shape checks only, no cryptography: they
// run first, and anything off the contract is `malformed`. Pure.

/** Largest command JWS accepted (README "Signed commands": over 8 KiB is malformed). */
export const MAX_JWS_BYTES = 8 * 1024
/** x5c: the signer's leaf + issuing CA (1 to 3 certificates accepted: leaf [, issuing CA [, root]]). */
export const MAX_X5C = 3

export interface CommandPayload {
  readonly v: 1
  readonly vin: string
  readonly cmd: string
  readonly args: Readonly<Record<string, unknown>>
  readonly jti: string
  /** ms since the epoch */
  readonly iat: number
  readonly exp: number
}

export type ResultStatus = 'executed' | 'rejected'

export interface ResultPayload {
  readonly v: 1
  readonly vin: string
  readonly jti: string
  readonly status: ResultStatus
  readonly reason?: string
  readonly ts: number
  /** the key that asked: the kid of a user key, or the RFC 7638 thumbprint of the signer certificate's key */
  readonly by?: string
  /** what an executed key command did to the car's key list */
  readonly change?: Readonly<Record<string, unknown>>
}

/** The car's key list as it publishes it (retained, signed by the car): what the fleet last saw. */
export interface KeyRecordPayload {
  readonly v: 1
  readonly vin: string
  readonly seq: number
  readonly ts: number
  readonly keys: ReadonlyArray<{ readonly kid: string; readonly role: string; readonly label: string; readonly until?: number }>
}

export interface JwsHeader {
  readonly alg: 'ES256'
  /** standard base64 DER, leaf first (exactly one of x5c and kid) */
  readonly x5c?: readonly string[]
  /** a key of the car's list: its RFC 7638 thumbprint, base64url (commands only) */
  readonly kid?: string
  readonly [k: string]: unknown
}

/** A header with x5c (results, key records, certificate-signed commands). */
export interface X5cHeader extends JwsHeader { readonly x5c: readonly string[] }

/** A JWS split and its JSON decoded; the signature is not checked yet. */
export interface ParsedJws<P> {
  readonly header: JwsHeader
  readonly payload: P
  /** the compact string itself (a snapshot: what jose verifies is what we parsed) */
  readonly compact: string
}

const B64URL = /^[A-Za-z0-9_-]+$/
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// a header parameter we do not implement must not be "critical" (RFC 7515 4.1.11); b64 only exists with crit (RFC 7797)
const REFUSED_HEADER_KEYS = ['crit', 'b64']
const MAX_STRING = 256
// a certificate in x5c: generous for a P-256 leaf or CA, small enough to bound parsing
const MAX_CERT_B64 = 4096

export function isUuid (s: unknown): s is string {
  return typeof s === 'string' && UUID.test(s)
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isMs (v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0
}

function decodeJson (part: string): unknown {
  if (!B64URL.test(part)) return undefined
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
}

function hasExactKeys (o: Record<string, unknown>, required: readonly string[], optional: readonly string[] = []): boolean {
  const keys = Object.keys(o)
  for (const k of required) if (!Object.hasOwn(o, k)) return false
  return keys.every((k) => required.includes(k) || optional.includes(k))
}

export type ShapeResult<P> =
  | { ok: true; value: ParsedJws<P> }
  /** jti: the command's jti when the payload carried one (a malformed command gets an answer only then) */
  | { ok: false; detail: string; jti?: string }

const KID = /^[A-Za-z0-9_-]{43}$/

function checkHeader (h: unknown, allowKid: boolean): string | null {
  if (!isPlainObject(h)) return 'header is not a JSON object'
  if (h.alg !== 'ES256') return 'alg is not ES256'
  for (const k of REFUSED_HEADER_KEYS) if (Object.hasOwn(h, k)) return `header parameter ${k} is not supported`
  if (Object.hasOwn(h, 'kid')) {
    if (!allowKid) return 'kid is not allowed here (x5c only)'
    if (Object.hasOwn(h, 'x5c')) return 'both kid and x5c'
    if (typeof h.kid !== 'string' || !KID.test(h.kid)) return 'kid is not an RFC 7638 SHA-256 thumbprint (43 base64url characters)'
    return null
  }
  const x5c = h.x5c
  if (!Array.isArray(x5c) || x5c.length < 1 || x5c.length > MAX_X5C) return 'x5c is not an array of 1-3 certificates'
  for (const c of x5c) {
    if (typeof c !== 'string' || c.length === 0 || c.length > MAX_CERT_B64 || !B64.test(c)) return 'x5c holds a value that is not base64 DER'
  }
  return null
}

/** split and decode a compact JWS; check the header shape (alg exactly ES256, x5c, or kid when allowed). */
export function parseJws (jws: string, checkPayload: (p: unknown) => string | null, allowKid = false): ShapeResult<unknown> {
  if (jws.length > MAX_JWS_BYTES) return { ok: false, detail: 'larger than 8 KiB' }
  const parts = jws.split('.')
  if (parts.length !== 3) return { ok: false, detail: 'not three parts' }
  const [h, p, s] = parts as [string, string, string]
  const header = decodeJson(h)
  const payload = decodeJson(p)
  const jti = isPlainObject(payload) && isUuid(payload.jti) ? payload.jti : undefined
  // an empty signature (alg none) is malformed, answered when the payload had a jti
  if (!B64URL.test(s)) return { ok: false, detail: 'signature is not base64url', jti }
  const headerProblem = checkHeader(header, allowKid)
  if (headerProblem !== null) return { ok: false, detail: headerProblem, jti }
  const payloadProblem = checkPayload(payload)
  if (payloadProblem !== null) return { ok: false, detail: payloadProblem, jti }
  return { ok: true, value: { header: header as JwsHeader, payload, compact: jws } }
}

export function commandPayloadProblem (p: unknown): string | null {
  if (!isPlainObject(p)) return 'payload is not a JSON object'
  if (!hasExactKeys(p, ['v', 'vin', 'cmd', 'args', 'jti', 'iat', 'exp'])) return 'payload keys are not v, vin, cmd, args, jti, iat, exp'
  if (p.v !== 1) return 'v is not 1'
  if (typeof p.vin !== 'string' || p.vin.length === 0 || p.vin.length > MAX_STRING) return 'vin is not a string'
  if (typeof p.cmd !== 'string' || p.cmd.length === 0 || p.cmd.length > MAX_STRING) return 'cmd is not a string'
  if (!isPlainObject(p.args)) return 'args is not an object'
  if (!isUuid(p.jti)) return 'jti is not a UUID'
  if (!isMs(p.iat) || !isMs(p.exp)) return 'iat or exp is not an integer of ms'
  if (p.exp < p.iat) return 'exp is before iat'
  return null
}

export function resultPayloadProblem (p: unknown): string | null {
  if (!isPlainObject(p)) return 'payload is not a JSON object'
  if (!hasExactKeys(p, ['v', 'vin', 'jti', 'status', 'ts'], ['reason', 'by', 'change'])) return 'payload keys are not v, vin, jti, status, [reason,] ts[, by][, change]'
  if (p.v !== 1) return 'v is not 1'
  if (typeof p.vin !== 'string' || p.vin.length > MAX_STRING) return 'vin is not a string'
  if (!isUuid(p.jti)) return 'jti is not a UUID'
  if (p.status !== 'executed' && p.status !== 'rejected') return 'status is not executed or rejected'
  if (p.status === 'rejected' ? typeof p.reason !== 'string' : p.reason !== undefined) return 'reason does not match status'
  if (!isMs(p.ts)) return 'ts is not an integer of ms'
  if (p.by !== undefined && (typeof p.by !== 'string' || p.by.length > MAX_STRING)) return 'by is not a string'
  if (p.change !== undefined && (!isPlainObject(p.change) || Object.keys(p.change).length > 8)) return 'change is not an object'
  return null
}

const MAX_RECORD_KEYS = 64

export function keyRecordPayloadProblem (p: unknown): string | null {
  if (!isPlainObject(p)) return 'payload is not a JSON object'
  if (!hasExactKeys(p, ['v', 'vin', 'seq', 'ts', 'keys'])) return 'payload keys are not v, vin, seq, ts, keys'
  if (p.v !== 1) return 'v is not 1'
  if (typeof p.vin !== 'string' || p.vin.length > MAX_STRING) return 'vin is not a string'
  if (!isMs(p.seq) || !isMs(p.ts)) return 'seq or ts is not an integer'
  if (!Array.isArray(p.keys) || p.keys.length > MAX_RECORD_KEYS) return 'keys is not a list'
  for (const k of p.keys) {
    if (!isPlainObject(k) || !hasExactKeys(k, ['kid', 'role', 'label'], ['until'])) return 'a key entry is not {kid, role, label[, until]}'
    if (typeof k.kid !== 'string' || typeof k.role !== 'string' || typeof k.label !== 'string' || k.kid.length > MAX_STRING || k.label.length > MAX_STRING) return 'a key entry holds a value that is not a short string'
    if (k.until !== undefined && !isMs(k.until)) return 'a key entry\'s until is not an integer of ms'
  }
  return null
}

export function parseKeyRecordJws (jws: string): ShapeResult<KeyRecordPayload> {
  return parseJws(jws, keyRecordPayloadProblem) as ShapeResult<KeyRecordPayload>
}

export function parseCommandJws (jws: string): ShapeResult<CommandPayload> {
  return parseJws(jws, commandPayloadProblem, true) as ShapeResult<CommandPayload>
}

export function parseResultJws (jws: string): ShapeResult<ResultPayload> {
  return parseJws(jws, resultPayloadProblem) as ShapeResult<ResultPayload>
}
