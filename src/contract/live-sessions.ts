// The live sessions as a check may find and end them: a port the broker
// implements over its session registry (src/broker/end-session.ts), so the
// revocation guard ends sessions without importing src/broker.
import type { Identity } from './identity.js'
import type { LiveReason, Reason } from './reasons.js'

/** A certificate a revocation names: by fingerprint, or by its issuer's fingerprint + serial (lowercase hex). */
export type CertificateTarget =
  | { readonly fingerprint: string }
  | { readonly issuer: string; readonly serial: string }

/** What a check reads of one live session. */
export interface LiveSessionState {
  readonly identity: Identity
  /** set once fleetgate ended the session itself (revoked, policy_changed, draining, cert_expired) */
  readonly endedFor?: Reason
  /** the policy role the session is judged under instead of its own (quarantine), if any */
  readonly judgedAs?: string
}

/** How one end is reported: the audit line (evt, reason, then `audit`) and the decision metric (evt, reason). */
export interface SessionEnd {
  readonly evt: 'revocation.kick' | 'policy.kick' | 'drain.kick' | 'expiry.kick'
  readonly reason: LiveReason
  readonly audit?: Readonly<Record<string, unknown>>
  readonly message: string
}

/**
 * The live sessions of this node. `H` is the broker's handle of one connection;
 * a check only passes it back.
 */
export interface LiveSessions<H = unknown> {
  /** the session of a handle; undefined once it is gone */
  get (handle: H): LiveSessionState | undefined
  /** the sessions a revocation of one of `targets` can end: a superset, each to be checked against its own identity */
  candidatesFor (targets: Iterable<CertificateTarget>): Iterable<H>
  /** the sessions of one leaf certificate */
  byFingerprint (fingerprint: string): readonly H[]
  /** every live session */
  live (): readonly H[]
  /** End the session for `end` (audited, counted, closed); false when it was already closed or ended. */
  end (handle: H, end: SessionEnd): boolean
  /**
   * Judge the session again under policy role `role` (undefined: its own role), as a
   * reload does: kept with the new grant, or ended (policy_changed) when that role
   * does not admit it. True when the session's role changed. Absent: a quarantined
   * session is ended instead (fail closed).
   */
  judgeAs? (handle: H, role: string | undefined, why: Readonly<Record<string, unknown>>): boolean
}
