// Ending a session from fleetgate's side (a revocation, a reload that no longer
// admits it), and what that means for its Will: dropped, never published.
import type { Client } from 'aedes'
import type { LiveReason } from '../contract/reasons.js'
import type { DecisionCounter } from '../contract/checks.js'
import type { Session } from './session.js'

/** How one end is reported: the audit line (evt, reason, then `audit`) and the decision metric (evt, reason). */
export interface SessionEnd {
  readonly evt: 'revocation.kick' | 'policy.kick'
  readonly reason: LiveReason
  readonly audit?: Readonly<Record<string, unknown>>
  readonly message: string
}

/**
 * Close a live session for `end`: mark it, audit line, metric, then close. Nothing
 * happens (false) when it is already closed or fleetgate already ended it.
 */
export function endSession (client: Client, session: Session, end: SessionEnd, decisions?: DecisionCounter): boolean {
  if (session.endedFor !== undefined || client.closed) return false
  // endedFor before close(): Aedes asks authorizePublish about the Will while
  // closing, and willOfEndedSession then refuses it (Aedes deletes it unpublished).
  session.endedFor = end.reason
  session.log.warn({ evt: end.evt, reason: end.reason, ...end.audit }, end.message)
  decisions?.inc(end.evt, end.reason)
  client.close()
  return true
}

/**
 * For authorizePublish: a session fleetgate ended and closed, whose Will Aedes
 * is asking about. True (after the will.drop audit line) means refuse it.
 */
export function willOfEndedSession (client: Client, session: Session): boolean {
  if (session.endedFor === undefined || !client.closed) return false
  session.log.info({ evt: 'will.drop', reason: session.endedFor }, 'will dropped')
  return true
}
