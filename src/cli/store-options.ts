// One option set for every command that opens the store: --redis,
// --redis-prefix, --data-dir, --revocation-timeout and the replica rule
// (--redis-min-replicas, --redis-replica-timeout), with the same
// environment variables (REDIS_URL, FLEETGATE_REDIS_PREFIX, ...) and defaults
// as `serve` (config/schema.ts). `serve` takes them from the same table; every
// other command (revoke, crl import, revocations list, provisioner, sim attack)
// adds them here, so no command writes where the broker does not read.
import type { Command } from 'commander'
import { addOptions } from './program.js'
import { resolveOptions, type ConfigInput } from '../config/index.js'
import { fgError } from '../contract/errors.js'
import { closeStores, openStores, redactUrl, type Closable, type StoreChoice, type StoreFactories, type StoresOf } from '../stores/index.js'

export type StoreFlags = Pick<ConfigInput, 'redis' | 'redisPrefix' | 'dataDir' | 'revocationTimeout' | 'redisMinReplicas' | 'redisReplicaTimeout'>

export const STORE_OPTION_NAMES = ['redis', 'redisPrefix', 'dataDir', 'revocationTimeout', 'redisMinReplicas', 'redisReplicaTimeout'] as const

/** --redis / --redis-prefix / --data-dir / --revocation-timeout, with the same env variables and defaults as `serve` */
export function addStoreOptions (cmd: Command): Command {
  return addOptions(cmd, STORE_OPTION_NAMES)
}

/** The store `serve` would use with these flags and environment, validated; `where` names it for messages. */
export function resolveStoreChoice (flags: StoreFlags, env: NodeJS.ProcessEnv = process.env): StoreChoice & { readonly redisPrefix: string; readonly dataDir: string; readonly where: string } {
  if (flags.redis !== undefined && flags.dataDir !== undefined) throw fgError('FG_ERR_USAGE', 'give --redis <url> or --data-dir <dir>, not both')
  const given: ConfigInput = {
    redis: flags.redis, redisPrefix: flags.redisPrefix, dataDir: flags.dataDir, revocationTimeout: flags.revocationTimeout ?? '5s',
    redisMinReplicas: flags.redisMinReplicas, redisReplicaTimeout: flags.redisReplicaTimeout,
  }
  // --data-dir chooses the file store even when REDIS_URL is set in the environment
  const config = resolveOptions(STORE_OPTION_NAMES, given, flags.dataDir !== undefined ? { ...env, REDIS_URL: undefined } : env)
  const where = config.redis ? `redis ${redactUrl(config.redis)} (prefix ${config.redisPrefix})` : `file ${config.dataDir}`
  return {
    redis: config.redis, redisPrefix: config.redisPrefix, dataDir: config.dataDir, revocationTimeout: config.revocationTimeout,
    redisMinReplicas: config.redisMinReplicas, redisReplicaTimeout: config.redisReplicaTimeout, where,
  }
}

export interface CliStores<M> {
  readonly stores: StoresOf<M>
  /** the store in words, for messages */
  readonly where: string
  close (): Promise<void>
}

/** Open the kinds in `maps` (e.g. { revocations: REVOCATION_STORES }) where `serve` would, with these flags and environment. */
export async function openCliStores<M extends Record<string, StoreFactories<Closable>>> (flags: StoreFlags, maps: M): Promise<CliStores<M>> {
  const choice = resolveStoreChoice(flags)
  const stores = await openStores(choice, maps)
  return { stores, where: choice.where, close: () => closeStores(Object.values(stores) as Closable[]) }
}
