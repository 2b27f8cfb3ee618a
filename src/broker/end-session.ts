// Ending a session from fleetgate's side (a revocation, a reload that no longer
// admits it), and what that means for its Will: dropped, never published.
import type { Client } from 'aedes'
import type { DecisionCounter } from '../contract/checks.js'
import type { LiveSessions, SessionEnd } from '../contract/live-sessions.js'
import type { Policy } from '../policy/index.js'
import type { Session, SessionRegistry } from './session.js'

export type { SessionEnd } from '../contract/live-sessions.js'

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

/**
 * The broker's side of the LiveSessions port (src/contract/live-sessions.ts):
 * the registry's sessions, keyed by Aedes client, ended through endSession.
 */
export function liveSessionsOf (registry: SessionRegistry, decisions?: DecisionCounter, policy?: () => Policy): LiveSessions<Client> {
  return {
    get: (client) => registry.get(client),
    candidatesFor: (targets) => registry.candidatesFor(targets),
    byFingerprint: (fingerprint) => registry.byFingerprint(fingerprint),
    live: () => registry.live(),
    end (client, end) {
      const session = registry.get(client)
      return session !== undefined && endSession(client, session, end, decisions)
    },
    judgeAs (client, role, why) {
      const session = registry.get(client)
      if (session === undefined || session.endedFor !== undefined || client.closed || session.judgedAs === role) return false
      // without the policy (a library composition that gave none) a role cannot be judged: fail closed
      const decision = policy?.().resolve(session.identity, client.id, role)
      if (decision === undefined || !decision.ok) {
        endSession(client, session, { evt: 'policy.kick', reason: 'policy_changed', audit: { detail: decision?.detail ?? decision?.reason ?? 'no policy to judge the role', role: role ?? 'own', ...why }, message: 'session closed: its new role does not admit it' }, decisions)
        return false
      }
      const from = session.grant.role
      session.grant = decision.grant
      session.judgedAs = role
      session.log.warn({ evt: 'policy.rejudge', from, role: decision.grant.role, ...why }, 'session judged under another role')
      decisions?.inc('policy.rejudge', 'ok')
      return true
    },
  }
}
