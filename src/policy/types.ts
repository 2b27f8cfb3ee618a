// Public types of the policy module (README "Policy file"; ARCHITECTURE.md steps 4, 7 and 8).
import type { Identity } from '../identity/identity.js'
import type { ConnectReason } from '../contract/reasons.js'

/** What one connection may do; compiled once at CONNECT, consulted per packet. */
export interface Grant {
  /** name of the role the certificate matched */
  readonly role: string
  /** the role's publish filters with placeholders filled (rules whose value was missing are dropped) */
  readonly publishRules: readonly string[]
  /** the role's subscribe filters with placeholders filled */
  readonly subscribeRules: readonly string[]
  /** PUBLISH (and the Will): a valid topic name, not `$...`, matched by a publish rule */
  canPublish (topic: string): boolean
  /** a retained PUBLISH (or Will) on this topic: one of the role's `retain` topics */
  canRetain (topic: string): boolean
  /** SUBSCRIBE: a valid, non-shared filter every topic of which a subscribe rule matches */
  canSubscribe (filter: string): boolean
  /** per delivery (authorizeForward): the topic is matched by a subscribe rule */
  canReceive (topic: string): boolean
}

/** The connect reasons a policy decision can give (a subset of contract/reasons.ts, checked by the compiler). */
export type PolicyRefusal = Extract<ConnectReason, 'no_role' | 'client_id_mismatch' | 'bad_vin' | 'identity_injection'>

export type PolicyDecision =
  | { ok: true; grant: Grant }
  | { ok: false; reason: PolicyRefusal; role?: string; detail?: string }

export interface Policy {
  /** file name (or label) the policy was read from, for messages */
  readonly source: string
  /** role names in file order (first match wins), for logs */
  readonly roles: readonly string[]
  /** Pick the role of this certificate and compile its grant for this clientId. Pure. */
  resolve (identity: Identity, clientId: string, as?: string): PolicyDecision
}
