// A store outage (Redis failing over, or gone) refuses every new connect that
// needs the store: fail closed. A fleet reconnecting through a failover would
// write one `connect.deny` line per car; the audit log gets one `store.outage`
// line when the first is refused and one `store.recovered` line (how long, how
// many refused) when the store answers again. Each refusal is still counted
// (fleetgate_decisions_total) and logged at debug level.
import type { AuditLogger } from '../audit/index.js'
import type { ConnectReason } from '../contract/reasons.js'

/** the refusals that say "the store cannot answer", not "this client is wrong" */
const STORE_REASONS: ReadonlySet<ConnectReason> = new Set<ConnectReason>(['revocation_unavailable', 'session_store_unavailable'])

export function isStoreRefusal (reason: ConnectReason): boolean { return STORE_REASONS.has(reason) }

export class OutageAudit {
  #since = 0
  #refused = 0
  #timer: NodeJS.Timeout | null = null

  /** `reachable`: every store link is up again (polled while an outage lasts) */
  constructor (readonly log: AuditLogger, readonly reachable: () => boolean, readonly pollMs = 200) {}

  get open (): boolean { return this.#since > 0 }

  /**
   * A connect refused because the store cannot answer; true when this is the
   * first of its outage (the caller writes no per-client line otherwise).
   */
  refused (reason: ConnectReason, detail: string | undefined): boolean {
    this.#refused++
    if (this.#since > 0) return false
    this.#since = Date.now()
    this.log.error({ evt: 'store.outage', reason, detail }, 'store unreachable: new connects that need it are refused until it answers (live sessions are kept)')
    this.#timer = setInterval(() => { if (this.reachable()) this.#end() }, this.pollMs)
    this.#timer.unref()
    return true
  }

  /** a connect that needed the store was admitted: it answers again */
  answered (): void {
    if (this.#since > 0) this.#end()
  }

  #end (): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
    this.log.warn({ evt: 'store.recovered', ms: Date.now() - this.#since, refused: this.#refused }, 'store reachable again: connects admitted')
    this.#since = 0
    this.#refused = 0
  }

  stop (): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }
}
