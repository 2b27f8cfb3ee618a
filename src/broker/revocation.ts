// The revocation part (ARCHITECTURE.md steps 3 and 9): the guard that checks a
// certificate at CONNECT and ends the live sessions of a revoked one, started
// (subscribed to revocation events) before the first CONNECT.
import type { Config } from '../config/index.js'
import type { AuditLogger } from '../audit/index.js'
import type { DecisionCounter } from '../contract/checks.js'
import { RevocationGuard } from '../checks/index.js'
import { certificateStatus } from '../stores/index.js'
import { liveSessionsOf } from './end-session.js'
import type { SessionRegistry } from './session.js'
import type { Policy } from '../policy/index.js'
import type { NodeStores } from './stores.js'

export async function startRevocationGuard (config: Config, stores: NodeStores, sessions: SessionRegistry, log: AuditLogger, decisions: DecisionCounter, policy?: () => Policy): Promise<RevocationGuard> {
  const guard = new RevocationGuard({
    store: certificateStatus(stores.revocations, stores.registry), sessions: liveSessionsOf(sessions, decisions, policy), log, decisions,
    recheckMs: config.revocationRecheck, cacheMs: config.revocationCache, failOpen: config.revocationFailOpen,
  })
  try {
    await guard.listen()
  } catch (err) {
    // what it opened; the caller's own stores stay the caller's to close
    await stores.closeOpened().catch(() => {})
    throw err
  }
  return guard
}
