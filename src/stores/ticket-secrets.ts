// The ticket secret store: what TLS session tickets are sealed with, per
// rotation epoch, the same on every node that shares it (src/resumption).

export interface TicketSecretStore {
  /**
   * The secret of rotation epoch `epoch` (32+ bytes): the same for every caller of
   * every node sharing this store; made on first ask. `lifetimeMs`: how long it must
   * stay readable (about three rotations).
   */
  secretFor (epoch: number, lifetimeMs: number): Promise<Buffer>
  /** re-read what the store reads from files (SIGHUP); optional */
  reload? (): void
  close (): Promise<void>
}
