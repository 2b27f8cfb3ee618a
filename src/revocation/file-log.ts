// The embedded store's file format (pure): one JSON object per line, each a flat
// record whose first key is "t". Flat records with plain values make a torn
// write recognisable: it starts like a record and does not parse.
//   {"t":"rev","fingerprint":"<fp>","reason":"..","revokedAt":".."}
//   {"t":"rev","issuer":"<fp>","serial":"<hex>","reason":"..","revokedAt":".."}
//   {"t":"reg","vin":"<VIN>","fingerprint":"<fp>","serial":"..","notAfter":"..","issuedAt":"..","state":"..","nonce":".."?,"ev":"first_connect"?}
import { normaliseSerial } from '../identity/index.js'
import { normaliseFingerprint } from './schema.js'
import type { RegistryRecord, RevokedRecord } from './types.js'

export type LogRecord =
  | { readonly t: 'rev'; readonly record: RevokedRecord }
  | { readonly t: 'reg'; readonly vin: string; readonly fingerprint: string; readonly record: RegistryRecord; readonly firstConnect: boolean }

const RECORD_START = '{"t":"'
const STATES = new Set(['issued', 'active', 'superseded', 'revoked'])

export function encodeRevoked (r: RevokedRecord): string {
  return 'fingerprint' in r
    ? JSON.stringify({ t: 'rev', fingerprint: r.fingerprint, reason: r.reason, revokedAt: r.revokedAt }) + '\n'
    : JSON.stringify({ t: 'rev', issuer: r.issuer, serial: r.serial, reason: r.reason, revokedAt: r.revokedAt }) + '\n'
}

export function encodeRegistryLine (vin: string, fingerprint: string, r: RegistryRecord, firstConnect = false): string {
  return JSON.stringify({ t: 'reg', vin, fingerprint, serial: r.serial, notAfter: r.notAfter, issuedAt: r.issuedAt, state: r.state, ...(r.nonce !== undefined ? { nonce: r.nonce } : {}), ...(firstConnect ? { ev: 'first_connect' } : {}) }) + '\n'
}

const str = (v: unknown): v is string => typeof v === 'string'

/** One complete line -> record, or a problem text. */
export function decodeLine (line: string): LogRecord | string {
  let o: unknown
  try { o = JSON.parse(line) } catch { return 'not JSON' }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not a JSON object'
  const m = o as Record<string, unknown>
  if (m.t === 'rev') {
    if (!str(m.reason) || !str(m.revokedAt)) return 'revocation without reason/revokedAt'
    if (str(m.fingerprint)) {
      const fingerprint = normaliseFingerprint(m.fingerprint)
      if (!fingerprint) return 'bad fingerprint'
      return { t: 'rev', record: { fingerprint, reason: m.reason, revokedAt: m.revokedAt } }
    }
    const issuer = str(m.issuer) ? normaliseFingerprint(m.issuer) : null
    const serial = str(m.serial) ? normaliseSerial(m.serial) : null
    if (!issuer || !serial) return 'revocation without fingerprint or issuer + serial'
    return { t: 'rev', record: { issuer, serial, reason: m.reason, revokedAt: m.revokedAt } }
  }
  if (m.t === 'reg') {
    if (!str(m.vin) || !str(m.fingerprint) || !str(m.state) || !STATES.has(m.state)) return 'bad registry record'
    const record: RegistryRecord = {
      serial: String(m.serial ?? ''), notAfter: String(m.notAfter ?? ''), issuedAt: String(m.issuedAt ?? ''), state: m.state as RegistryRecord['state'],
      ...(str(m.nonce) ? { nonce: m.nonce } : {}),
    }
    return { t: 'reg', vin: m.vin, fingerprint: m.fingerprint, record, firstConnect: m.ev === 'first_connect' }
  }
  return 'unknown record type'
}

export interface ParsedChunk {
  readonly records: LogRecord[]
  /** torn records skipped (line numbers relative to the chunk, 1-based) */
  readonly torn: number[]
  /** the first corrupt line: not a torn write */
  readonly corrupt: { line: number; problem: string } | null
  /** trailing text with no newline yet (a write in progress, or torn) */
  readonly rest: string
}

/**
 * Parse complete lines of `text`. A line that starts like a record but does not
 * parse is a torn write (a crash mid-append): skipped. If a record was glued
 * onto a torn one, the record is kept. Anything else is corruption.
 */
export function parseChunk (text: string): ParsedChunk {
  const lines = text.split('\n')
  const rest = lines.pop() ?? ''
  const records: LogRecord[] = []
  const torn: number[] = []
  let corrupt: ParsedChunk['corrupt'] = null
  lines.forEach((line, i) => {
    if (corrupt || line.trim() === '') return
    const r = decodeLine(line)
    if (typeof r !== 'string') { records.push(r); return }
    if (!line.startsWith(RECORD_START) || r !== 'not JSON') { corrupt = { line: i + 1, problem: r }; return }
    torn.push(i + 1)
    const glued = line.lastIndexOf(RECORD_START)
    if (glued > 0) {
      const g = decodeLine(line.slice(glued))
      if (typeof g !== 'string') records.push(g)
    }
  })
  return { records, torn, corrupt, rest }
}
