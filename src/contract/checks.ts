// The plugin contract: what a check is, what it returns, and how a decision is
// counted. Everything the broker composes (revocation, the signed-command edge,
// the guards) is written against these types and nothing above them.
import type { PublishPacket } from 'aedes'
import type { Identity } from './identity.js'
import type { ConnectReason, PublishReason, Reason, SubscribeReason } from './reasons.js'

/** audit: extra fields for the audit line (e.g. the edge's commandReason, jti); never a payload */
export type Refusal<R extends Reason> = { ok: false; reason: R; detail?: string; audit?: Readonly<Record<string, string>> }
/**
 * judgeAs (connect checks only): admit, but judge the session under this policy role
 * instead of the one its certificate matches (a quarantined certificate: `quarantine`).
 */
export type CheckResult<R extends Reason> = { ok: true; judgeAs?: string } | Refusal<R>

/** What a check may know of a live session: who it is and where it connects from. */
export interface SessionView {
  readonly identity: Identity
  readonly remote: string | undefined
}

/** An asynchronous connect-time check (revocation, ...) run after identity and before policy. */
export type ConnectCheck = (identity: Identity) => Promise<CheckResult<ConnectReason>>
/** An extra PUBLISH check (signed-command edge enforcement) run after the topic rules. */
export type PublishCheck = (session: SessionView, packet: PublishPacket) => Promise<CheckResult<PublishReason>> | CheckResult<PublishReason>
/** An extra SUBSCRIBE check run after the topic rules, for one filter. */
export type SubscribeCheck = (session: SessionView, filter: string) => Promise<CheckResult<SubscribeReason>> | CheckResult<SubscribeReason>

/** Counts decisions by (event, reason): the metrics, or nothing. */
export interface DecisionCounter {
  inc (evt: string, reason: string): void
  /** count n at once (dropped PUBLISHes); absent: inc n times */
  add? (evt: string, reason: string, n: number): void
}
