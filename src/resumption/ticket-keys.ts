// The ticket keys of a running node: the keyring (previous, current and next
// epoch) filled from the ticket secret store, refreshed on a timer, installed on
// the tls.Server. A store that cannot answer never stops the listener: the node
// keeps the keys it holds, or seals with a secret of its own (its tickets then
// resume on this node only) until the store answers again.
import { randomBytes } from 'node:crypto'
import type { Server } from 'node:tls'
import type { AuditLogger } from '../audit/index.js'
import type { TicketSecretStore } from '../stores/index.js'
import { installTicketKeys, ticketKeysBuffer } from '../tls/index.js'
import { TicketKeyring, bundleDigest, type TicketTrust } from './keyring.js'

export interface TicketKeysOptions {
  readonly store: TicketSecretStore
  /** --tls-ticket-rotation */
  readonly rotationMs: number
  /** the trust bundle (its digest is in every key and in the session id context) and the server key's seed */
  readonly trust: TicketTrust
  readonly log: AuditLogger
  readonly now?: () => number
}

/** what tls.Server options need when tickets are on (tls/options.ts ListenerTls.resumption) */
export interface TicketOptions { readonly lifetimeSeconds: number; readonly sessionIdContext: string; readonly ticketKeys: Buffer }

export class TicketKeys {
  readonly keyring: TicketKeyring
  readonly #o: TicketKeysOptions
  #sessionIdContext: string
  /** epochs sealed with a secret of this node's own while the store did not answer */
  readonly #local = new Set<number>()
  readonly #installed: Array<{ refresh (): void; readonly multiKey: boolean }> = []
  #timer: NodeJS.Timeout | undefined
  #failing = false
  #refreshing: Promise<void> | undefined

  private constructor (o: TicketKeysOptions) {
    this.#o = o
    this.keyring = new TicketKeyring({ rotationMs: o.rotationMs, trust: o.trust, now: o.now })
    this.#sessionIdContext = bundleDigest(o.trust.caDer).toString('hex').slice(0, 32)
  }

  static async start (o: TicketKeysOptions): Promise<TicketKeys> {
    const keys = new TicketKeys(o)
    await keys.refresh()
    // often enough to hold the next epoch's secret well before it starts
    keys.#timer = setInterval(() => { keys.refresh().catch(() => {}) }, Math.min(o.rotationMs / 4, 60_000))
    keys.#timer.unref()
    return keys
  }

  get options (): TicketOptions {
    return {
      // a ticket never outlives one rotation (OpenSSL refuses an older one)
      lifetimeSeconds: Math.max(1, Math.floor(this.#o.rotationMs / 1000)),
      sessionIdContext: this.#sessionIdContext,
      ticketKeys: ticketKeysBuffer(this.keyring.current()),
    }
  }

  /** Seal and open the server's tickets with the keyring (again after each setSecureContext). */
  install (server: Server): void {
    const handle = installTicketKeys(server, this.keyring)
    if (!handle.multiKey) this.#o.log.warn({ evt: 'tls.tickets', detail: `Node ${process.version} has no ticket key callback: one key at a time, a rotation ends every earlier ticket` }, 'ticket key rotation without overlap')
    this.#installed.push(handle)
  }

  /** a reload (trust bundle or server key): keys derived again; when either changed, tickets sealed before no longer resume */
  retrust (trust: TicketTrust): void {
    this.keyring.retrust(trust)
    this.#sessionIdContext = bundleDigest(trust.caDer).toString('hex').slice(0, 32)
  }

  /** SIGHUP: the store re-reads its file (if it has one); a bad file keeps the old secret */
  reload (): void {
    if (!this.#o.store.reload) return
    try {
      this.#o.store.reload()
    } catch (err) {
      this.#o.log.error({ evt: 'tls.tickets', err: (err as Error).message }, 'ticket secret not re-read, old one kept')
      return
    }
    for (const epoch of this.keyring.wanted()) this.#local.add(epoch) // asked again below
    this.refresh().catch(() => {})
  }

  /** Ask the store for every wanted epoch not held (or held only locally). */
  refresh (): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => { this.#refreshing = undefined })
    return this.#refreshing
  }

  async #refresh (): Promise<void> {
    const { store, rotationMs, log } = this.#o
    this.keyring.prune()
    for (const epoch of [...this.#local]) if (!this.keyring.wanted().includes(epoch)) this.#local.delete(epoch)
    let failure: Error | undefined
    for (const epoch of this.keyring.wanted()) {
      if (this.keyring.has(epoch) && !this.#local.has(epoch)) continue
      try {
        this.keyring.add(epoch, await store.secretFor(epoch, 4 * rotationMs))
        this.#local.delete(epoch)
      } catch (err) {
        failure = err as Error
      }
    }
    const current = this.keyring.epoch
    if (failure && !this.keyring.has(current)) {
      this.keyring.add(current, randomBytes(32))
      this.#local.add(current)
    }
    if (failure && !this.#failing) log.warn({ evt: 'tls.tickets', err: failure.message }, 'ticket secret store unavailable: keys held kept, tickets sealed now resume on this node only')
    if (!failure && this.#failing) log.info({ evt: 'tls.tickets', detail: 'ticket secret store answers again' }, 'ticket secrets shared again')
    this.#failing = failure !== undefined
    for (const h of this.#installed) h.refresh()
  }

  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.#refreshing?.catch(() => {})
    await this.#o.store.close()
  }
}
