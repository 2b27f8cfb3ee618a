// The embedded revocation store: the revocations of the store file under
// --data-dir (store-file.ts), which it may share with the embedded device
// registry (registry-file.ts).
import type { OperatorAct, OperatorLogEntry, RevocationEntry, RevocationEvent, RevocationQuery, RevocationStatus, RevocationStore, RevocationTarget, RevokedRecord, StateChange } from '../stores/index.js'
import { StoreFile, STORE_FILE, type FileStoreOptions } from './store-file.js'

export { STORE_FILE, type FileStoreOptions }

export class FileRevocationStore implements RevocationStore {
  readonly kind = 'file' as const
  readonly file: StoreFile
  #unsubscribe: Array<() => void> = []
  #closed = false

  /** a revocation store on `file` (its own or shared with the registry) */
  constructor (file: StoreFile) { this.file = file.use() }

  /** open the store file under opts.dataDir for this store alone */
  static async open (opts: FileStoreOptions): Promise<FileRevocationStore> {
    return new FileRevocationStore(await StoreFile.open(opts))
  }

  get path (): string { return this.file.path }

  /** read what other processes (or we) appended since the last read */
  refresh (): Promise<void> { return this.file.refresh() }

  healthy (): boolean { return !this.#closed && this.file.healthy() }

  async status (query: RevocationQuery): Promise<RevocationStatus> { return await this.file.revocationStatus(query) }

  async revoke (targets: readonly RevocationTarget[], entry: RevocationEntry, onProgress?: (done: number, total: number) => void): Promise<number> {
    const n = await this.file.revokeLogged(targets, entry)
    onProgress?.(n, targets.length)
    return n
  }

  async setState (targets: readonly RevocationTarget[], change: StateChange): Promise<number> { return await this.file.setState(targets, change) }

  async history (match: { readonly fingerprint?: string; readonly serial?: string }): Promise<OperatorLogEntry[]> { return await this.file.history(match) }

  async revokeMany (records: readonly RevokedRecord[], onProgress?: (done: number, total: number) => void, by?: OperatorAct): Promise<number> {
    return await this.file.revokeMany(records, onProgress, by)
  }

  async list (): Promise<RevokedRecord[]> { return await this.file.list() }

  async watch (onEvent: (event: RevocationEvent) => void): Promise<void> {
    if (this.#closed) return
    this.#unsubscribe.push(this.file.subscribe((e) => { if (e.kind !== 'first_connect') onEvent(e) }))
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const u of this.#unsubscribe.splice(0)) u()
    await this.file.release()
  }
}
