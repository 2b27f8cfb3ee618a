// The catalogue's pure parts: audit-log correlation, verdict arithmetic, and
// the reports (the HTML page is self-contained and escapes what it shows).
import { expect } from 'chai'
import {
  parseAuditLines, reasonInWindow, withAuditReasons, withObservedReasons, exitCodeOf, totals, reasonMatches, renderHtml, renderTable,
  type AttackResult, type CatalogueReport,
} from '../../../simulator/attack/index.js'

const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const at = (ms: number) => new Date(T0 + ms).toISOString()

function result (over: Partial<AttackResult>): AttackResult {
  return {
    id: 'client-id-takeover', title: 'clientId takeover', family: 'connect', decider: 'broker', expected: 'client_id_mismatch', means: 'm',
    verdict: 'PASS', observed: 'CONNACK 5 (refused)', startedAt: at(0), durationMs: 10, ...over,
  }
}

describe('attack catalogue: audit log correlation', () => {
  const log = [
    JSON.stringify({ level: 'info', time: at(5), evt: 'connect.allow' }),
    JSON.stringify({ level: 'warn', time: at(10), evt: 'connect.deny', reason: 'client_id_mismatch' }),
    'not json',
    JSON.stringify({ level: 'info', time: at(120), evt: 'tls.deny', err: '80EC:error:0A0000C7:SSL routines:tls_process_client_certificate:peer did not return a certificate' }),
    JSON.stringify({ level: 'warn', time: at(210), evt: 'publish.deny', reason: 'command_rejected', commandReason: 'bad_signature' }),
  ].join('\n')

  it('keeps only decision lines, with the OpenSSL text shortened and the edge\'s command reason', () => {
    const lines = parseAuditLines(log)
    expect(lines.map((l) => [l.evt, l.reason, l.detail])).to.deep.equal([
      ['connect.deny', 'client_id_mismatch', undefined],
      ['tls.deny', 'tls_refused', 'peer did not return a certificate'],
      ['publish.deny', 'command_rejected', 'bad_signature'],
    ])
    expect(reasonInWindow(lines, T0 + 100, T0 + 200, 'client_id_mismatch')?.reason).to.equal('tls_refused')
    expect(reasonInWindow(lines, T0 + 300, T0 + 400, 'x')).to.equal(undefined)
    // the edge check (on by default) logs the car's reason beside command_rejected: that line is the expected one
    expect(reasonInWindow([...lines, { ...lines[0]!, time: T0 + 215 }], T0 + 200, T0 + 300, 'bad_signature')?.reason).to.equal('command_rejected')
  })

  it('gives each attack the reason logged between its start and the next attack\'s start', () => {
    const rs = withAuditReasons([
      result({}),
      result({ id: 'no-certificate', expected: 'tls_refused', startedAt: at(100) }),
      result({ id: 'forged-signature', decider: 'car', expected: 'bad_signature', startedAt: at(200), observed: 'closed' }),
    ], parseAuditLines(log), T0 + 1000)
    expect(rs.map((r) => r.reasonSeen)).to.deep.equal([
      'client_id_mismatch (connect.deny)', 'tls_refused (tls.deny: peer did not return a certificate)', 'command_rejected (publish.deny: bad_signature)'])
    expect(rs.map(reasonMatches)).to.deep.equal([true, true, true])
  })

  it('without a log, a PASS shows the client\'s observation and a FAIL none', () => {
    const rs = withObservedReasons([result({ observed: 'SUBACK 0x80; nothing' }), result({ verdict: 'FAIL', observed: 'CONNACK 0' })])
    expect(rs[0]).to.include({ reasonSeen: 'SUBACK 0x80', reasonSource: 'observation' })
    expect(rs[1]!.reasonSeen).to.equal(undefined)
  })
})

describe('attack catalogue: verdicts and reports', () => {
  function report (results: AttackResult[]): CatalogueReport {
    return {
      tool: 'fleetgate sim attack', version: 1, target: 'mqtts://localhost:8883', startedAt: at(0), finishedAt: at(1000), quick: true,
      victimVin: 'V', attackerVin: 'A', carsStarted: true, totals: totals(results), results, notes: ['a <note>'],
    }
  }

  it('exit code: 1 if any FAIL, 3 if only ERRORs stand in the way, SKIPPED counts for nothing', () => {
    expect(exitCodeOf(report([result({}), result({ verdict: 'SKIPPED' })]))).to.equal(0)
    expect(exitCodeOf(report([result({ verdict: 'ERROR' })]))).to.equal(3)
    expect(exitCodeOf(report([result({ verdict: 'ERROR' }), result({ verdict: 'FAIL' })]))).to.equal(1)
  })

  it('the HTML page is self-contained and escapes observed text', () => {
    const html = renderHtml(report([result({ verdict: 'FAIL', observed: '<script>alert(1)</script>' })]))
    expect(html).not.to.match(/<script|<link|src=|url\(/i)
    expect(html).to.include('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).to.include('1 of 1 attacks got through')
  })

  it('the table has one row per attack and a summary line', () => {
    const text = renderTable(report([result({}), result({ id: 'sys-discovery', verdict: 'FAIL', observed: 'SUBACK 0x01' })]))
    expect(text).to.match(/^client-id-takeover\s+client_id_mismatch\s+CONNACK 5 \(refused\)\s+PASS/m)
    expect(text).to.match(/^sys-discovery\s+client_id_mismatch\s+SUBACK 0x01\s+FAIL/m)
    expect(text).to.match(/2 attacks against mqtts:\/\/localhost:8883: 1 PASS, 1 FAIL, 0 SKIPPED, 0 ERROR {2}<- attacks got through/)
  })
})
