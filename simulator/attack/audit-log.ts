// Correlating the broker's JSON audit log (`fleetgate serve > audit.jsonl`)
// with the attacks: the client sees only CONNACK 5, SUBACK 0x80 or a close;
// the audit line written during the attack says why. Parsing is pure; reading
// the file is one bounded read.
import { closeSync, openSync, readSync, statSync } from 'node:fs'

export interface AuditDecision {
  readonly time: number
  readonly evt: string
  readonly reason: string
  readonly detail?: string
}

/** evt of audit lines that record a refusal */
const DECISION_EVTS = new Set(['connect.deny', 'publish.deny', 'publish.drop', 'subscribe.deny', 'subscribe.kick', 'stream.deny', 'revocation.kick', 'policy.kick', 'expiry.kick', 'deliver.kick', 'tls.deny'])
/** the tail of a long-running broker's log is enough for one run */
export const MAX_AUDIT_BYTES = 64 * 1024 * 1024

/** "80EC…:error:0A0000C7:SSL routines:…:peer did not return a certificate" -> "peer did not return a certificate" */
function opensslText (err: string): string {
  const text = /error:[0-9A-F]+:/.test(err) ? err.slice(err.lastIndexOf(':') + 1) : err
  return text.trim().slice(0, 100)
}

export function parseAuditLines (text: string): AuditDecision[] {
  const out: AuditDecision[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    let o: Record<string, unknown>
    try { o = JSON.parse(line) as Record<string, unknown> } catch { continue }
    const evt = typeof o.evt === 'string' ? o.evt : ''
    if (!DECISION_EVTS.has(evt)) continue
    const time = typeof o.time === 'string' ? Date.parse(o.time) : typeof o.time === 'number' ? o.time : NaN
    if (!Number.isFinite(time)) continue
    if (evt === 'tls.deny') {
      out.push({ time, evt, reason: 'tls_refused', detail: typeof o.err === 'string' ? opensslText(o.err) : undefined })
    } else if (typeof o.reason === 'string') {
      out.push({ time, evt, reason: o.reason, detail: typeof o.commandReason === 'string' ? o.commandReason : undefined })
    }
  }
  return out
}

/** The decision for one attack's time window: the expected reason if the broker logged it (the last such line), else the first one logged. */
export function reasonInWindow (lines: readonly AuditDecision[], from: number, to: number, expected: string): AuditDecision | undefined {
  const inWindow = lines.filter((l) => l.time >= from && l.time < to)
  // the last one: e.g. a live session is kicked after a sanity refusal of an older certificate in the same window
  for (let i = inWindow.length - 1; i >= 0; i--) if (sameReason(inWindow[i]!, expected)) return inWindow[i]
  return inWindow[0]
}

/** the broker's edge check (on by default) refuses a bad command with command_rejected and the car's own reason beside it */
function sameReason (d: AuditDecision, expected: string): boolean {
  return d.reason === expected || (d.reason === 'command_rejected' && d.detail === expected)
}

export function describeDecision (d: AuditDecision): string {
  return d.detail !== undefined ? `${d.reason} (${d.evt}: ${d.detail})` : `${d.reason} (${d.evt})`
}

export function readAuditLog (path: string): AuditDecision[] {
  const size = statSync(path).size
  const length = Math.min(size, MAX_AUDIT_BYTES)
  const buf = Buffer.alloc(length)
  const fd = openSync(path, 'r')
  try { readSync(fd, buf, 0, length, size - length) } finally { closeSync(fd) }
  return parseAuditLines(buf.toString('utf8'))
}
