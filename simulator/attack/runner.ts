// Runs the catalogue one attack at a time, each bounded in time, each with
// its own Scope (every client it opened is closed afterwards), and turns
// observations into verdicts: PASS iff blocked, SKIPPED with a reason (never
// PASS), ERROR when the attack could not be judged.
import { setTimeout as sleep } from 'node:timers/promises'
import type { AttackContext, RunSettings } from './context.js'
import { attackContext, newRunState } from './context.js'
import { Scope } from './client.js'
import { describeDecision, reasonInWindow, type AuditDecision } from './audit-log.js'
import { STAYS_UP, type Attack, type AttackResult, type CatalogueReport, type Observation, type Verdict } from './types.js'
import { Inconclusive, SkipAttack } from './not-judged.js'

export const DEFAULT_ATTACK_TIMEOUT_MS = 20_000

export interface RunHooks {
  onStart? (attack: Attack, index: number, total: number): void
  onResult? (result: AttackResult, index: number, total: number): void
}

type Outcome = { kind: 'observed'; o: Observation } | { kind: 'skipped'; why: string } | { kind: 'error'; why: string }

async function runOne (attack: Attack, ctx: AttackContext): Promise<Outcome> {
  const limit = attack.timeoutMs?.(ctx) ?? DEFAULT_ATTACK_TIMEOUT_MS
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<Outcome>((resolve) => { timer = setTimeout(() => resolve({ kind: 'error', why: `no verdict within ${limit / 1000} s` }), limit) })
  const work = attack.run(ctx).then(
    (o): Outcome => ({ kind: 'observed', o }),
    (err: unknown): Outcome => err instanceof SkipAttack
      ? { kind: 'skipped', why: err.message }
      : err instanceof Inconclusive
        ? { kind: 'error', why: err.message }
        : { kind: 'error', why: `attack failed to run: ${(err as Error)?.message ?? String(err)}` })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export async function runAttacks (attacks: readonly Attack[], settings: RunSettings, hooks: RunHooks = {}): Promise<AttackResult[]> {
  const state = newRunState(settings)
  const results: AttackResult[] = []
  for (const [i, attack] of attacks.entries()) {
    hooks.onStart?.(attack, i, attacks.length)
    const scope = new Scope()
    const startedAt = new Date()
    const t0 = performance.now()
    const out = await runOne(attack, attackContext(settings, state, scope))
    const durationMs = Math.round(performance.now() - t0)
    await Promise.race([scope.closeAll(), sleep(3000)])
    const verdict: Verdict = out.kind === 'skipped' ? 'SKIPPED' : out.kind === 'error' ? 'ERROR' : out.o.blocked ? 'PASS' : 'FAIL'
    const result: AttackResult = {
      id: attack.id, title: attack.title, family: attack.family, decider: attack.decider, expected: attack.expects, means: attack.means,
      verdict,
      observed: out.kind === 'observed' ? out.o.observed : out.why,
      ...(out.kind === 'observed' && out.o.reasonSeen !== undefined ? { reasonSeen: out.o.reasonSeen, reasonSource: 'car-result' as const } : {}),
      startedAt: startedAt.toISOString(),
      durationMs,
    }
    results.push(result)
    hooks.onResult?.(result, i, attacks.length)
    // let the broker finish its close and audit line before the next window opens
    await sleep(settings.quick ? 30 : 100)
  }
  return results
}

/** Fill in the broker's reason from its audit log (each attack's window runs to the next one's start). */
export function withAuditReasons (results: readonly AttackResult[], lines: readonly AuditDecision[], endedAt: number): AttackResult[] {
  return results.map((r, i) => {
    if (r.verdict === 'SKIPPED' || r.reasonSource === 'car-result' || r.expected === STAYS_UP) return r
    const from = Date.parse(r.startedAt)
    const next = results[i + 1]
    const to = next ? Date.parse(next.startedAt) : endedAt
    const d = reasonInWindow(lines, from, to, r.expected)
    return d ? { ...r, reasonSeen: describeDecision(d), reasonSource: 'audit-log' as const } : r
  })
}

/** Without an audit log the client's own observation stands in for the reason (the broker does not tell clients why). */
export function withObservedReasons (results: readonly AttackResult[]): AttackResult[] {
  return results.map((r) => (r.reasonSeen !== undefined || r.verdict !== 'PASS')
    ? r
    : { ...r, reasonSeen: (r.observed.split(';')[0] ?? r.observed).trim(), reasonSource: 'observation' as const })
}

export function totals (results: readonly AttackResult[]): Record<Verdict, number> {
  const t: Record<Verdict, number> = { PASS: 0, FAIL: 0, SKIPPED: 0, ERROR: 0 }
  for (const r of results) t[r.verdict]++
  return t
}

/** exit code of `sim attack`: 1 if any attack got through, 3 if none did but some could not be judged, else 0 */
export function exitCodeOf (report: Pick<CatalogueReport, 'totals'>): number {
  if (report.totals.FAIL > 0) return 1
  if (report.totals.ERROR > 0) return 3
  return 0
}

/** true when the reason seen is the one the attack expects */
export function reasonMatches (r: AttackResult): boolean | null {
  if (r.reasonSeen === undefined || r.reasonSource === 'observation') return null
  // "command_rejected (publish.deny: bad_signature)": the broker's edge check gave the car's reason
  return r.reasonSeen === r.expected || r.reasonSeen.startsWith(r.expected + ' ') || r.reasonSeen.includes(`: ${r.expected})`)
}
