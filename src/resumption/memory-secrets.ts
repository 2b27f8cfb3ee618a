// Ticket secrets made by this process (no --redis, no --tls-ticket-keys): a
// restart, or another node, does not resume them.
import { randomBytes } from 'node:crypto'
import type { TicketSecretStore } from '../stores/index.js'

export class MemoryTicketSecrets implements TicketSecretStore {
  readonly #secrets = new Map<number, Buffer>()

  async secretFor (epoch: number): Promise<Buffer> {
    let s = this.#secrets.get(epoch)
    if (!s) {
      s = randomBytes(32)
      this.#secrets.set(epoch, s)
      // a handful of epochs at most (the keyring asks for previous, current, next)
      for (const e of this.#secrets.keys()) if (e < epoch - 2) this.#secrets.delete(e)
    }
    return s
  }

  async close (): Promise<void> { this.#secrets.clear() }
}
