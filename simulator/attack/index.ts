// The attack catalogue (`fleetgate sim attack`): attacks, runner, reports.
export { SkipAttack, Inconclusive } from './not-judged.js'
export { TLS_REFUSED, STAYS_UP, type Attack, type AttackFamily, type AttackResult, type CatalogueReport, type Decider, type ExpectedReason, type Observation, type Verdict } from './types.js'
export { CATALOGUE, selectAttacks } from './catalogue.js'
export { runCatalogue, CatalogueNotStarted, type CatalogueOptions } from './run-catalogue.js'
export { runAttacks, withAuditReasons, withObservedReasons, totals, exitCodeOf, reasonMatches, DEFAULT_ATTACK_TIMEOUT_MS, type RunHooks } from './runner.js'
export { parseAuditLines, readAuditLog, reasonInWindow, type AuditDecision } from './audit-log.js'
export { renderTable, renderJson, renderHtml } from './report.js'
export type { AttackContext, RunSettings, VictimCar } from './context.js'
