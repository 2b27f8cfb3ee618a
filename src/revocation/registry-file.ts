// The embedded device registry: the registry records of the store file under
// --data-dir (store-file.ts), the same file as the embedded revocation store's
// (one file, one order of writes; its format is file-log.ts).
import type { DeviceRegistry, RegistryEvent, RegistryRecord } from '../stores/index.js'
import { StoreFile, type FileStoreOptions } from './store-file.js'

export class FileDeviceRegistry implements DeviceRegistry {
  readonly kind = 'file' as const
  readonly file: StoreFile
  #unsubscribe: Array<() => void> = []
  #closed = false

  /** a registry on `file` (its own or shared with the revocation store) */
  constructor (file: StoreFile) { this.file = file.use() }

  /** open the store file under opts.dataDir for this registry alone */
  static async open (opts: FileStoreOptions): Promise<FileDeviceRegistry> {
    return new FileDeviceRegistry(await StoreFile.open(opts))
  }

  async get (vin: string): Promise<Record<string, RegistryRecord>> { return await this.file.registryGet(vin) }

  async record (vin: string, fingerprint: string, fresh = false): Promise<RegistryRecord | null> {
    return await this.file.registryRecord(vin, fingerprint, fresh)
  }

  async set (vin: string, fingerprint: string, record: RegistryRecord): Promise<void> { await this.file.registrySet(vin, fingerprint, record) }

  async markActive (vin: string, fingerprint: string): Promise<boolean> { return await this.file.markActive(vin, fingerprint) }

  async watch (onEvent: (event: RegistryEvent) => void): Promise<void> {
    if (this.#closed) return
    this.#unsubscribe.push(this.file.subscribe((e) => { if (e.kind === 'first_connect') onEvent(e) }))
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const u of this.#unsubscribe.splice(0)) u()
    await this.file.release()
  }
}
