// The attack catalogue's vocabulary: an attack, what the attacker observed,
// and the verdict. An attacker sees the broker from outside, so an
// observation is only what an MQTT/TLS client can see (a TLS failure, a
// CONNACK code, SUBACK 0x80, a close, a message or its absence, a car's
// signed result).
import type { Reason } from '../../src/index.js'
import type { AttackContext } from './context.js'

/** Refused in the TLS handshake: the client never reaches MQTT, so no MQTT reason exists (ARCHITECTURE.md step 1). */
export const TLS_REFUSED = 'tls_refused'
/** Nothing to refuse (a load attack): the broker must stay up and serve the others; judged by observation only. */
export const STAYS_UP = 'stays_up'
export type ExpectedReason = Reason | typeof TLS_REFUSED | typeof STAYS_UP

export type AttackFamily = 'tls' | 'connect' | 'topic' | 'command' | 'transport' | 'protocol' | 'revocation' | 'provisioning'

/** Where the refusal is decided: the broker (reason only in its audit log) or the car (reason in its signed result). */
export type Decider = 'broker' | 'car'

export interface Observation {
  /** the attack did not get through */
  readonly blocked: boolean
  /** what the client saw, e.g. "CONNACK 5", "SUBACK 0x80 0x80", "closed after 120 ms" */
  readonly observed: string
  /** the reason as the client could read it (a car's verified signed result) or as the audit log gave it */
  readonly reasonSeen?: string
}

export interface Attack {
  /** kebab-case, stable: used in --only, the JSON report and tests */
  readonly id: string
  readonly title: string
  readonly family: AttackFamily
  readonly decider: Decider
  readonly expects: ExpectedReason
  /** one or two sentences for the HTML report and the README: what the attacker tries and why it matters */
  readonly means: string
  /** bound on this attack in ms (the runner stops waiting after it); default from the context */
  readonly timeoutMs?: (ctx: AttackContext) => number
  run (ctx: AttackContext): Promise<Observation>
}

export type Verdict = 'PASS' | 'FAIL' | 'SKIPPED' | 'ERROR'

export interface AttackResult {
  readonly id: string
  readonly title: string
  readonly family: AttackFamily
  readonly decider: Decider
  readonly expected: ExpectedReason
  readonly means: string
  readonly verdict: Verdict
  readonly observed: string
  readonly reasonSeen?: string
  /** where reasonSeen came from */
  readonly reasonSource?: 'car-result' | 'audit-log' | 'observation'
  readonly startedAt: string
  readonly durationMs: number
}

export interface CatalogueReport {
  readonly tool: 'fleetgate sim attack'
  readonly version: 1
  readonly target: string
  readonly startedAt: string
  readonly finishedAt: string
  readonly quick: boolean
  readonly auditLog?: string
  readonly victimVin: string
  readonly attackerVin: string
  readonly carsStarted: boolean
  readonly totals: Readonly<Record<Verdict, number>>
  readonly results: readonly AttackResult[]
  readonly notes: readonly string[]
}
