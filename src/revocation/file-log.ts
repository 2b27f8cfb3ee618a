// The embedded store's file format (pure): one JSON object per line, each a flat
// record whose first key is "t". Flat records with plain values make a torn
// write recognisable: it is a prefix of a record (it starts like one, or is the
// start of '{"t":"' itself) and does not parse.
//   {"t":"rev","fingerprint":"<fp>","reason":"..","revokedAt":".."}
//   {"t":"rev","issuer":"<fp>","serial":"<hex>","reason":"..","revokedAt":".."}
//   {"t":"st","fingerprint":"<fp>"|"issuer":"<fp>","serial":"<hex>","state":"active|inactive|quarantined","at":"..","by":"..","reason":".."}
//   {"t":"op","action":"revoke|deactivate|quarantine|activate","fingerprint":"<fp>"|"issuer":"<fp>","serial":"<hex>","by":"..","at":"..","reason":"..","note":".."}
//   {"t":"reg","vin":"<VIN>","fingerprint":"<fp>","serial":"..","notAfter":"..","issuedAt":"..","state":"..","nonce":".."?,"ev":"first_connect"?}
import { normaliseSerial } from '../identity/index.js'
import { normaliseFingerprint } from './schema.js'
import type { CertState, OperatorLogEntry, RevocationTarget, RevokedRecord, StateChange } from '../stores/revocations.js'
import type { RegistryRecord } from '../stores/registry.js'

export type LogRecord =
  | { readonly t: 'rev'; readonly record: RevokedRecord }
  | { readonly t: 'st'; readonly target: RevocationTarget; readonly state: CertState; readonly at: string; readonly by: string; readonly reason: string }
  | { readonly t: 'op'; readonly entry: OperatorLogEntry }
  | { readonly t: 'reg'; readonly vin: string; readonly fingerprint: string; readonly record: RegistryRecord; readonly firstConnect: boolean }

const RECORD_START = '{"t":"'
const STATES = new Set(['issued', 'active', 'superseded', 'revoked'])

export function encodeRevoked (r: RevokedRecord): string {
  return 'fingerprint' in r
    ? JSON.stringify({ t: 'rev', fingerprint: r.fingerprint, reason: r.reason, revokedAt: r.revokedAt }) + '\n'
    : JSON.stringify({ t: 'rev', issuer: r.issuer, serial: r.serial, reason: r.reason, revokedAt: r.revokedAt }) + '\n'
}

function targetFields (t: RevocationTarget): Record<string, string> {
  return 'fingerprint' in t ? { fingerprint: t.fingerprint } : { issuer: t.issuer, serial: t.serial }
}

export function encodeStateLine (target: RevocationTarget, c: StateChange): string {
  return JSON.stringify({ t: 'st', ...targetFields(target), state: c.state, at: c.at, by: c.by, reason: c.reason }) + '\n'
}

export function encodeOpLine (e: OperatorLogEntry): string {
  return JSON.stringify({ t: 'op', action: e.action, ...targetFields(e.target), by: e.by, at: e.at, reason: e.reason, note: e.note }) + '\n'
}

const CERT_STATES = new Set(['active', 'inactive', 'quarantined'])
const ACTIONS = new Set(['revoke', 'deactivate', 'quarantine', 'activate'])

/** the target of a line: a fingerprint, or issuer + serial (normalised); null when neither */
function targetOf (m: Record<string, unknown>): RevocationTarget | null {
  if (str(m.fingerprint)) {
    const fingerprint = normaliseFingerprint(m.fingerprint)
    return fingerprint ? { fingerprint } : null
  }
  const issuer = str(m.issuer) ? normaliseFingerprint(m.issuer) : null
  const serial = str(m.serial) ? normaliseSerial(m.serial) : null
  return issuer && serial ? { issuer, serial } : null
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
  if (m.t === 'st') {
    const target = targetOf(m)
    if (!target) return 'state without fingerprint or issuer + serial'
    if (!str(m.state) || !CERT_STATES.has(m.state)) return 'bad state'
    return { t: 'st', target, state: m.state as CertState, at: String(m.at ?? ''), by: String(m.by ?? ''), reason: String(m.reason ?? '') }
  }
  if (m.t === 'op') {
    const target = targetOf(m)
    if (!target || !str(m.action) || !ACTIONS.has(m.action)) return 'bad operator log record'
    return { t: 'op', entry: { action: m.action as OperatorLogEntry['action'], target, by: String(m.by ?? ''), at: String(m.at ?? ''), reason: String(m.reason ?? ''), note: String(m.note ?? '') } }
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
  /** torn records skipped: the byte offset of each line (from `base`) */
  readonly torn: number[]
  /** lines that are not torn writes (corruption, a hand edit): skipped, with their byte offsets */
  readonly corrupt: Array<{ offset: number; problem: string }>
  /** bytes of complete lines read; what follows has no newline yet (a write in progress, or torn) */
  readonly consumed: number
}

/**
 * A torn write is a prefix of a record: it starts like one, or is the start of
 * "{"t":"" itself (the disk took only a few bytes). Everything else is corruption.
 */
function looksTorn (s: string): boolean {
  return s.length > 0 && (s.startsWith(RECORD_START) || RECORD_START.startsWith(s))
}

/**
 * Parse the complete lines of `buf` (bytes of the file from offset `base`). A
 * line that is a prefix of a record is a torn write (a crash or a full disk
 * mid-append): skipped. A bad line of any other kind is reported as corrupt.
 * Either way a record glued onto it, and every valid record after it, is still
 * returned: a skipped revocation would fail open.
 */
export function parseChunk (input: Buffer | string, base = 0): ParsedChunk {
  const buf = typeof input === 'string' ? Buffer.from(input) : input
  const records: LogRecord[] = []
  const torn: number[] = []
  const corrupt: ParsedChunk['corrupt'] = []
  let start = 0
  for (let nl = buf.indexOf(0x0a, start); nl !== -1; start = nl + 1, nl = buf.indexOf(0x0a, start)) {
    const line = buf.toString('utf8', start, nl)
    if (line.trim() === '') continue
    const r = decodeLine(line)
    if (typeof r !== 'string') { records.push(r); continue }
    const glued = line.lastIndexOf(RECORD_START)
    const g = glued > 0 ? decodeLine(line.slice(glued)) : 'none'
    if (r === 'not JSON' && looksTorn(typeof g === 'string' ? line : line.slice(0, glued))) torn.push(base + start)
    else corrupt.push({ offset: base + start, problem: r })
    // a whole record a writer appended after the bad bytes (its handle did not see them)
    if (typeof g !== 'string') records.push(g)
  }
  return { records, torn, corrupt, consumed: start }
}
