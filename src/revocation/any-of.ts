// The revocation store and the revocation sources as one store: a certificate
// revoked by any of them is revoked. Writes go to the store; every source's
// events are heard. A source that cannot answer makes the whole answer
// unavailable (the connect check fails closed), unless another one already
// found the certificate revoked.
import type { RevocationEvent, RevocationQuery, RevocationStatus, RevocationStore } from '../stores/index.js'

export class AnyOfRevocationStores implements RevocationStore {
  readonly kind: string
  readonly store: RevocationStore
  readonly sources: readonly RevocationStore[]

  constructor (store: RevocationStore, sources: readonly RevocationStore[]) {
    this.store = store
    this.sources = sources
    this.kind = [store.kind, ...sources.map((s) => s.kind)].join('+')
  }

  healthy (): boolean { return this.store.healthy() && this.sources.every((s) => s.healthy()) }

  async status (query: RevocationQuery): Promise<RevocationStatus> {
    const all = [this.store, ...this.sources]
    const answers = await Promise.allSettled(all.map((s) => s.status(query)))
    for (const a of answers) if (a.status === 'fulfilled' && a.value.revoked) return a.value
    for (const a of answers) if (a.status === 'rejected') throw a.reason
    // states live in the store only
    const own = answers[0]!
    return { revoked: null, state: own.status === 'fulfilled' ? own.value.state ?? null : null }
  }

  get setState (): RevocationStore['setState'] { return this.store.setState?.bind(this.store) }
  get history (): RevocationStore['history'] { return this.store.history?.bind(this.store) }

  revoke (...args: Parameters<RevocationStore['revoke']>): ReturnType<RevocationStore['revoke']> { return this.store.revoke(...args) }
  revokeMany (...args: Parameters<RevocationStore['revokeMany']>): ReturnType<RevocationStore['revokeMany']> { return this.store.revokeMany(...args) }
  list (): ReturnType<RevocationStore['list']> { return this.store.list() }

  async watch (onEvent: (event: RevocationEvent) => void): Promise<void> {
    await this.store.watch(onEvent)
    for (const s of this.sources) await s.watch(onEvent)
  }

  async close (): Promise<void> {
    let first: unknown
    for (const s of [...this.sources, this.store]) {
      try { await s.close() } catch (err) { first ??= err }
    }
    if (first !== undefined) throw first
  }
}
