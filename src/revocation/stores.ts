// The factory maps of the revocation store and the device registry (chosen by
// src/stores/open.ts). Embedded: both on the store file under --data-dir, one
// StoreFile when opened together. Redis: both on the revocation schema's keys,
// one command link when opened together. A new implementation is a file beside
// these plus one line in its map.
import { DEFAULT_PREFIX, minReplicasOf, openStore, storeContext, type DeviceRegistry, type RevocationStore, type StoreChoice, type StoreContext, type StoreFactories } from '../stores/index.js'
import type { AuditLogger } from '../audit/index.js'
import { fgError } from '../contract/errors.js'
import { StoreFile } from './store-file.js'
import { FileRevocationStore } from './file-store.js'
import { FileDeviceRegistry } from './registry-file.js'
import { RedisStoreLink } from './redis-link.js'
import { RedisRevocationStore } from './redis-store.js'
import { RedisDeviceRegistry } from './registry-redis.js'
import { CrlRevocationSource } from './crl-source.js'
import { OcspRevocationSource } from './ocsp-source.js'
import { AnyOfRevocationStores } from './any-of.js'

/** the store file under choice.dataDir, one per context */
function storeFile (choice: StoreChoice, ctx: StoreContext): Promise<StoreFile> {
  return ctx.share(`file:${choice.dataDir}`, () => StoreFile.open({ dataDir: choice.dataDir, log: ctx.log }))
}

/** the command link to the revocation schema, one per context */
function redisLink (choice: StoreChoice, ctx: StoreContext): Promise<RedisStoreLink> {
  if (!choice.redis) throw fgError('FG_ERR_CONFIG_MISSING', 'the redis store needs --redis <url> (REDIS_URL)')
  const prefix = choice.redisPrefix ?? DEFAULT_PREFIX
  const url = choice.redis
  return ctx.share(`redis:${url}:${prefix}`, () => RedisStoreLink.open({
    url, prefix, timeoutMs: choice.revocationTimeout ?? 1000, log: ctx.log,
    minReplicas: minReplicasOf(choice), replicaTimeoutMs: choice.redisReplicaTimeout ?? 2000,
  }))
}

export const REVOCATION_STORES: StoreFactories<RevocationStore> = {
  embedded: async (choice, ctx) => new FileRevocationStore(await storeFile(choice, ctx)),
  redis: async (choice, ctx) => new RedisRevocationStore(await redisLink(choice, ctx)),
}

export const REGISTRY_STORES: StoreFactories<DeviceRegistry> = {
  embedded: async (choice, ctx) => new FileDeviceRegistry(await storeFile(choice, ctx)),
  redis: async (choice, ctx) => new RedisDeviceRegistry(await redisLink(choice, ctx)),
}

/** The revocation store the broker reads with this choice (Redis with --redis, else the file under --data-dir). */
export async function openRevocationStore (choice: StoreChoice, log?: AuditLogger): Promise<RevocationStore> {
  return await openStore('revocation', REVOCATION_STORES, choice, storeContext(log))
}

/** What the revocation sources read of the configuration (the serve flags of the same names). */
export interface RevocationSourceChoice {
  readonly dataDir: string
  readonly crlUrl?: readonly string[] | undefined
  readonly crlDp?: boolean
  readonly crlRefresh?: number
  readonly crlStale?: 'refuse' | 'use'
  readonly ocspUrl?: readonly string[] | undefined
  readonly ocspAia?: boolean
  readonly ocspUnavailable?: 'refuse' | 'allow'
  readonly revocationTimeout?: number
  readonly revocationCache?: number
}

export interface RevocationSourceContext {
  readonly log?: AuditLogger
  /** the CA certificates (DER) a CRL or an OCSP answer may be signed by: --ca, --cert's chain, CAs of verified client chains */
  readonly cas: () => readonly Uint8Array[]
}

/** a source the configuration turns on, or null */
export type RevocationSourceFactory = (choice: RevocationSourceChoice, ctx: RevocationSourceContext) => Promise<RevocationStore | null>

/**
 * Revocation sources beside the store (README "Revocation sources"): read-only
 * stores behind the same port, opened when their flags are given, composed with
 * the store by anyOfRevocations. A new source is a file beside these and one line here.
 */
export const REVOCATION_SOURCES: Readonly<Record<string, RevocationSourceFactory>> = {
  crl: async (c, ctx) => c.crlUrl?.length || c.crlDp ? await CrlRevocationSource.open({ urls: c.crlUrl ?? [], distributionPoints: c.crlDp ?? false, firstLoadWaitMs: c.revocationTimeout ?? 1000, dataDir: c.dataDir, refreshMs: c.crlRefresh ?? 3_600_000, stale: c.crlStale ?? 'refuse', cas: ctx.cas, log: ctx.log }) : null,
  ocsp: async (c, ctx) => c.ocspUrl?.length || c.ocspAia ? new OcspRevocationSource({ urls: c.ocspUrl ?? [], aia: c.ocspAia ?? false, unavailable: c.ocspUnavailable ?? 'refuse', timeoutMs: c.revocationTimeout ?? 1000, cacheMs: c.revocationCache ?? 60_000, cas: ctx.cas, log: ctx.log }) : null,
}

/** Every source the choice turns on, in the map's order; those opened are closed when one fails. */
export async function openRevocationSources (choice: RevocationSourceChoice, ctx: RevocationSourceContext): Promise<RevocationStore[]> {
  const opened: RevocationStore[] = []
  try {
    for (const factory of Object.values(REVOCATION_SOURCES)) {
      const source = await factory(choice, ctx)
      if (source !== null) opened.push(source)
    }
  } catch (err) {
    for (const s of opened) await s.close().catch(() => {})
    throw err
  }
  return opened
}

/** The store and the sources as one: revoked by any is revoked (the store alone when there is no source). */
export function anyOfRevocations (store: RevocationStore, sources: readonly RevocationStore[]): RevocationStore {
  return sources.length === 0 ? store : new AnyOfRevocationStores(store, sources)
}
