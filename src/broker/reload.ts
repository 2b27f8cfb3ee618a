// Reload without a restart (SIGHUP): re-read the TLS material and the policy; on
// success every live session is decided again under the new ones (kept with its
// new grant, or closed as policy_changed). Nothing changes when a file cannot be read.
import type { AuditLogger } from '../audit/index.js'
import type { DecisionCounter } from '../contract/checks.js'
import type { Policy } from '../policy/index.js'
import type { LoadedTlsMaterial } from '../tls/index.js'
import { loadReloadable, reconsider, type ReloadResult } from '../reload/index.js'
import { endSession } from './end-session.js'
import type { SessionRegistry } from './session.js'

export interface ReloadDeps {
  readonly paths: () => { tls: { ca: string; cert: string; key: string }; policy: string }
  readonly sessions: SessionRegistry
  readonly log: AuditLogger
  readonly decisions: DecisionCounter
  /** the new material and policy, applied before live sessions are decided again */
  apply (material: LoadedTlsMaterial, policy: Policy): void
}

export function reloader (deps: ReloadDeps): () => ReloadResult {
  const { sessions, log, decisions } = deps
  return function reload (): ReloadResult {
    const paths = deps.paths()
    const loaded = loadReloadable(paths.tls, paths.policy)
    if (!loaded.ok) {
      log.error({ evt: 'reload.fail', code: loaded.error.code, err: loaded.error.message }, 'reload failed, old configuration kept')
      return { ok: false, error: loaded.error }
    }
    const policy = loaded.value.policy
    deps.apply(loaded.value.material, policy)
    let kept = 0
    let closed = 0
    for (const client of sessions.live()) {
      const session = sessions.get(client)
      if (!session || client.closed) continue
      const verdict = reconsider(session.identity, client.id, policy, loaded.value.trusted, session.judgedAs)
      if (verdict.keep) { session.grant = verdict.grant; kept++; continue }
      if (endSession(client, session, { evt: 'policy.kick', reason: verdict.reason, audit: { detail: verdict.detail }, message: 'session closed by reload' }, decisions)) closed++
    }
    log.info({ evt: 'reload.ok', roles: policy.roles, kept, closed }, 'configuration reloaded')
    return { ok: true, kept, closed, roles: policy.roles }
  }
}
