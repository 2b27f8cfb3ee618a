// The wire shape of a signed command and of a signed result (README "Signed
// commands"): JWS compact, ES256, x5c. Shape checks only, no cryptography: they
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
}

export interface JwsHeader {
  readonly alg: 'ES256'
  /** standard base64 DER, leaf first */
  readonly x5c: readonly string[]
  readonly [k: string]: unknown
}

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

function checkHeader (h: unknown): string | null {
  if (!isPlainObject(h)) return 'header is not a JSON object'
  if (h.alg !== 'ES256') return 'alg is not ES256'
  for (const k of REFUSED_HEADER_KEYS) if (Object.hasOwn(h, k)) return `header parameter ${k} is not supported`
  const x5c = h.x5c
  if (!Array.isArray(x5c) || x5c.length < 1 || x5c.length > MAX_X5C) return 'x5c is not an array of 1-3 certificates'
  for (const c of x5c) {
    if (typeof c !== 'string' || c.length === 0 || c.length > MAX_CERT_B64 || !B64.test(c)) return 'x5c holds a value that is not base64 DER'
  }
  return null
}

/** split and decode a compact JWS; check the header shape (alg exactly ES256, x5c). */
export function parseJws (jws: string, checkPayload: (p: unknown) => string | null): ShapeResult<unknown> {
  if (jws.length > MAX_JWS_BYTES) return { ok: false, detail: 'larger than 8 KiB' }
  const parts = jws.split('.')
  if (parts.length !== 3) return { ok: false, detail: 'not three parts' }
  const [h, p, s] = parts as [string, string, string]
  const header = decodeJson(h)
  const payload = decodeJson(p)
  const jti = isPlainObject(payload) && isUuid(payload.jti) ? payload.jti : undefined
  // an empty signature (alg none) is malformed, answered when the payload had a jti
  if (!B64URL.test(s)) return { ok: false, detail: 'signature is not base64url', jti }
  const headerProblem = checkHeader(header)
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
  if (!hasExactKeys(p, ['v', 'vin', 'jti', 'status', 'ts'], ['reason'])) return 'payload keys are not v, vin, jti, status, [reason,] ts'
  if (p.v !== 1) return 'v is not 1'
  if (typeof p.vin !== 'string' || p.vin.length > MAX_STRING) return 'vin is not a string'
  if (!isUuid(p.jti)) return 'jti is not a UUID'
  if (p.status !== 'executed' && p.status !== 'rejected') return 'status is not executed or rejected'
  if (p.status === 'rejected' ? typeof p.reason !== 'string' : p.reason !== undefined) return 'reason does not match status'
  if (!isMs(p.ts)) return 'ts is not an integer of ms'
  return null
}

export function parseCommandJws (jws: string): ShapeResult<CommandPayload> {
  return parseJws(jws, commandPayloadProblem) as ShapeResult<CommandPayload>
}

export function parseResultJws (jws: string): ShapeResult<ResultPayload> {
  return parseJws(jws, resultPayloadProblem) as ShapeResult<ResultPayload>
}
