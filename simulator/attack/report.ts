// The catalogue's report: a console table, a JSON document and one
// self-contained HTML page (no external assets; prints well). Pure.
import type { AttackResult, CatalogueReport, Verdict } from './types.js'
import { STAYS_UP, TLS_REFUSED } from './types.js'
import { reasonMatches } from './runner.js'
import { safe } from '../print.js'

const FAMILY_TITLES: Record<string, string> = {
  tls: 'TLS handshake', connect: 'CONNECT', topic: 'Topics', command: 'Signed commands (decided by the car)', transport: 'Transport', protocol: 'Hostile MQTT and load', revocation: 'Revocation', provisioning: 'Provisioning',
}

function verdictText (r: AttackResult): string {
  return r.verdict === 'PASS' && reasonMatches(r) === false ? 'PASS*' : r.verdict
}

function pad (s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + '…' : s.padEnd(n)
}

/** One row per attack: attack, expected, observed, verdict, reason seen. */
export function renderTable (report: CatalogueReport): string {
  const cols = [['ATTACK', 28], ['EXPECTED', 24], ['OBSERVED', 64], ['VERDICT', 8], ['REASON SEEN', 44]] as const
  const line = (cells: readonly string[]) => cells.map((c, i) => pad(c, cols[i]![1])).join('  ').trimEnd()
  const rows = [line(cols.map((c) => c[0])), line(cols.map((c) => '-'.repeat(Math.min(c[1], c[0].length + 4))))]
  for (const r of report.results) {
    rows.push(line([r.id, r.expected, safe(r.observed, 200), verdictText(r), safe(r.reasonSeen ?? '-', 200)]))
  }
  const t = report.totals
  rows.push('')
  rows.push(`${report.results.length} attacks against ${report.target}: ${t.PASS} PASS, ${t.FAIL} FAIL, ${t.SKIPPED} SKIPPED, ${t.ERROR} ERROR` +
    (t.FAIL > 0 ? '  <- attacks got through' : ''))
  if (report.results.some((r) => verdictText(r) === 'PASS*')) rows.push('PASS*: blocked, but the reason seen is not the one expected')
  for (const n of report.notes) rows.push(`note: ${n}`)
  return rows.join('\n') + '\n'
}

export function renderJson (report: CatalogueReport): string {
  return JSON.stringify(report, null, 2) + '\n'
}

function esc (s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!))
}

const VERDICT_CLASS: Record<Verdict, string> = { PASS: 'pass', FAIL: 'fail', SKIPPED: 'skip', ERROR: 'err' }

function expectedText (expected: string): string {
  if (expected === STAYS_UP) return 'stays_up (nothing to refuse: the broker stays up and serves the others)'
  return expected === TLS_REFUSED ? 'tls_refused (never reaches MQTT)' : expected
}

/** One self-contained page a tester can read, print and forward. */
export function renderHtml (report: CatalogueReport): string {
  const t = report.totals
  const ok = t.FAIL === 0 && t.ERROR === 0
  const headline = t.FAIL > 0
    ? `${t.FAIL} of ${report.results.length} attacks got through`
    : t.ERROR > 0 ? `No attack got through, but ${t.ERROR} could not be judged` : `All ${t.PASS} attacks that ran were blocked`
  const families = [...new Set(report.results.map((r) => r.family))]
  const body = families.map((f) => {
    const rows = report.results.filter((r) => r.family === f).map((r) => `
      <tr class="${VERDICT_CLASS[r.verdict]}">
        <td><strong>${esc(r.title)}</strong><div class="id">${esc(r.id)}</div><div class="means">${esc(r.means)}</div></td>
        <td><code>${esc(expectedText(r.expected))}</code></td>
        <td>${esc(r.observed)}</td>
        <td>${r.reasonSeen !== undefined ? `<code>${esc(r.reasonSeen)}</code><div class="src">${esc(r.reasonSource ?? '')}</div>` : '-'}</td>
        <td class="v"><span class="badge ${VERDICT_CLASS[r.verdict]}">${esc(verdictText(r))}</span><div class="src">${r.durationMs} ms</div></td>
      </tr>`).join('')
    return `
    <tr class="family"><th colspan="5">${esc(FAMILY_TITLES[f] ?? f)}</th></tr>${rows}`
  }).join('')
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fleetgate attack catalogue: ${esc(report.target)}</title>
<style>
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; }
  h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
  .summary { border: 2px solid ${ok ? '#1a7f37' : '#cf222e'}; background: ${ok ? '#f0fff4' : '#fff5f5'}; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0 1.5rem; }
  .summary .head { font-size: 1.25rem; font-weight: 600; color: ${ok ? '#1a7f37' : '#cf222e'}; }
  .counts span { display: inline-block; margin-right: 1.25rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .75rem 0 0; }
  dt { color: #57606a; } dd { margin: 0; }
  table { border-collapse: collapse; width: 100%; table-layout: fixed; }
  td { overflow-wrap: anywhere; }
  th, td { text-align: left; vertical-align: top; padding: .5rem .6rem; border-bottom: 1px solid #d0d7de; }
  thead th { background: #f6f8fa; position: sticky; top: 0; }
  tr.family th { background: #eaeef2; font-size: .95rem; }
  .id { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; color: #57606a; }
  .means { color: #424a53; font-size: 13px; margin-top: .2rem; }
  .src { color: #6e7781; font-size: 12px; }
  code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f6f8fa; padding: 0 .2rem; border-radius: 3px; }
  .badge { font-weight: 700; padding: .1rem .45rem; border-radius: 4px; color: #fff; }
  .badge.pass { background: #1a7f37; } .badge.fail { background: #cf222e; } .badge.skip { background: #6e7781; } .badge.err { background: #9a6700; }
  tr.fail td { background: #fff5f5; }
  .notes li { margin: .25rem 0; }
  footer { color: #6e7781; font-size: 12px; margin-top: 2rem; }
  @media print { body { margin: 0; max-width: none; font-size: 11px; } thead th { position: static; } tr { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>fleetgate attack catalogue</h1>
<div>Target <code>${esc(report.target)}</code>, ${esc(report.startedAt)}${report.quick ? ' (quick run)' : ''}</div>
<section class="summary">
  <div class="head">${esc(headline)}</div>
  <div class="counts"><span>PASS (blocked): <strong>${t.PASS}</strong></span><span>FAIL (got through): <strong>${t.FAIL}</strong></span><span>SKIPPED: <strong>${t.SKIPPED}</strong></span><span>ERROR (not judged): <strong>${t.ERROR}</strong></span></div>
  <dl>
    <dt>Victim car</dt><dd><code>${esc(report.victimVin)}</code>${report.carsStarted ? ' (started by this run)' : ' (already running: --no-cars)'}</dd>
    <dt>Attacker car</dt><dd><code>${esc(report.attackerVin)}</code> (a genuine certificate in the attacker's hands)</dd>
    <dt>Broker reasons</dt><dd>${report.auditLog !== undefined ? `from the audit log <code>${esc(report.auditLog)}</code>` : 'not available (no --audit-log): the client-side observation is shown'}</dd>
    <dt>Finished</dt><dd>${esc(report.finishedAt)}</dd>
  </dl>
</section>
<p>PASS means the attack was blocked; FAIL means it got through. Each row says what the attack tries, the reason fleetgate is expected to give,
what the attacking client observed, and the reason seen (from the car's signed result, the broker's audit log, or the client's observation).</p>
<table>
  <colgroup><col style="width:33%"><col style="width:13%"><col style="width:26%"><col style="width:20%"><col style="width:8%"></colgroup>
  <thead><tr><th>Attack</th><th>Expected reason</th><th>Observed</th><th>Reason seen</th><th>Verdict</th></tr></thead>
  <tbody>${body}
  </tbody>
</table>
${report.notes.length > 0 ? `<h2>Notes</h2><ul class="notes">${report.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<footer>Made by <code>fleetgate sim attack</code>. PASS*: blocked, but the reason seen differs from the one expected.</footer>
</body>
</html>
`
}
