// The Redis device registry: `<prefix>certs:<VIN>` hashes (field fingerprint,
// value the registry JSON) and first_connect announcements on
// `<prefix>certificates`, as README "Redis schema" states them. It may share its
// command link with the Redis revocation store (redis-link.ts).
import type { DeviceRegistry, RegistryEvent, RegistryRecord } from '../stores/index.js'
import { bounded } from '../stores/index.js'
import { decodeFirstConnect, decodeRegistry, encodeFirstConnect, encodeRegistry, type Keys } from './schema.js'
import { ChannelWatch, RedisStoreLink, type RedisStoreOptions } from './redis-link.js'

// issued -> active, and the first_connect announcement, atomically.
const MARK_ACTIVE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local ok, r = pcall(cjson.decode, v)
if not ok or type(r) ~= 'table' or r.state ~= 'issued' then return 0 end
r.state = 'active'
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(r))
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1`

interface ScriptCommands { fgMarkActive (registryKey: string, channel: string, fingerprint: string, event: string): Promise<number> }

export class RedisDeviceRegistry implements DeviceRegistry {
  readonly kind = 'redis' as const
  readonly #link: RedisStoreLink
  readonly #watch: ChannelWatch

  /** a registry on `link` (its own or shared with the revocation store) */
  constructor (link: RedisStoreLink) {
    this.#link = link.use()
    this.#watch = new ChannelWatch(link, link.keys.certificates, 'fleetgate-registry-sub')
    // EVALSHA (ioredis falls back to EVAL once after a SCRIPT FLUSH): the script is not resent per call
    link.cmd.defineCommand('fgMarkActive', { numberOfKeys: 2, lua: MARK_ACTIVE })
  }

  /** Connect a link of its own (bounded); an unreachable server is the operator's FG_ERR_REDIS_UNAVAILABLE. */
  static async open (opts: RedisStoreOptions): Promise<RedisDeviceRegistry> {
    return new RedisDeviceRegistry(await RedisStoreLink.open(opts))
  }

  get keys (): Keys { return this.#link.keys }

  get #ms (): number { return this.#link.opts.timeoutMs }

  async get (vin: string): Promise<Record<string, RegistryRecord>> {
    const all = await bounded(this.#link.cmd.hgetall(this.keys.registry(vin)), this.#ms, 'registry read')
    const out: Record<string, RegistryRecord> = {}
    for (const [fp, v] of Object.entries(all)) { const r = decodeRegistry(v); if (r) out[fp] = r }
    return out
  }

  async record (vin: string, fingerprint: string): Promise<RegistryRecord | null> {
    const value = await bounded(this.#link.cmd.hget(this.keys.registry(vin), fingerprint), this.#ms, 'registry read')
    return value === null ? null : decodeRegistry(value)
  }

  async set (vin: string, fingerprint: string, record: RegistryRecord): Promise<void> {
    await bounded(this.#link.cmd.hset(this.keys.registry(vin), fingerprint, encodeRegistry(record)), this.#ms, 'registry write')
    // a certificate's state (issued, superseded, revoked) is durable once a replica has it
    await this.#link.replicated(`registry record of ${vin} (${record.state})`)
  }

  /**
   * Not waited for replicas (a broker's first connect of a car: a WAIT here would
   * hold the connect path's link); one lost in a failover is made again at the
   * car's next connect.
   */
  async markActive (vin: string, fingerprint: string): Promise<boolean> {
    const changed = await bounded((this.#link.cmd as unknown as ScriptCommands).fgMarkActive(this.keys.registry(vin), this.keys.certificates, fingerprint, encodeFirstConnect(vin, fingerprint)),
      this.#ms, 'registry update')
    return changed === 1
  }

  /** Subscribe to first_connect announcements (FG_ERR_REDIS_UNAVAILABLE when the subscriber link cannot start). */
  async watch (onEvent: (event: RegistryEvent) => void): Promise<void> {
    await this.#watch.start((message) => {
      const fc = decodeFirstConnect(message)
      if (fc) onEvent({ kind: 'first_connect', vin: fc.vin, fingerprint: fc.fingerprint })
    }, () => {})
  }

  async close (): Promise<void> {
    await this.#watch.close()
  }
}
