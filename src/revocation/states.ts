// Certificate states (README "Certificate states"): the one place a state change
// is checked before it is written, for the CLI and the library alike. Revoked is
// final: a revoked certificate's state cannot change (FG_ERR_CERT_REVOKED).
import { fgError } from '../contract/errors.js'
import type { OperatorLogEntry, RevocationStore, RevocationTarget, StateChange } from '../stores/index.js'
import { describeTarget } from './schema.js'

/**
 * Set the targets' state in the store, with who (`change.by`, required), when
 * and why in its operator log; announced so every node acts on it at once.
 * Rejects with FG_ERR_CERT_REVOKED when any target is revoked (nothing written).
 */
export async function setCertificateState (store: RevocationStore, targets: readonly RevocationTarget[], change: StateChange): Promise<number> {
  if (store.setState === undefined) throw fgError('FG_ERR_STATES_UNSUPPORTED', `the ${store.kind} revocation store keeps no certificate states`)
  if (change.by.trim() === '') throw fgError('FG_ERR_USAGE', 'a state change needs who makes it (--by <name>)')
  const { revoked } = await store.status({ targets, fresh: true })
  if (revoked) throw fgError('FG_ERR_CERT_REVOKED', `${describeTarget(revoked)} is revoked (${revoked.reason}${revoked.revokedAt ? ` at ${revoked.revokedAt}` : ''}): revocation is final, it cannot be made ${change.state}`)
  return await store.setState(targets, change)
}

/** the operator log's entries for a fingerprint or a serial, oldest first */
export async function certificateHistory (store: RevocationStore, match: { readonly fingerprint?: string; readonly serial?: string }): Promise<OperatorLogEntry[]> {
  if (store.history === undefined) throw fgError('FG_ERR_STATES_UNSUPPORTED', `the ${store.kind} revocation store keeps no operator log`)
  return await store.history(match)
}
