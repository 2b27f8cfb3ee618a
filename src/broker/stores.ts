// The stores a broker node keeps, opened from one choice (src/stores/open.ts):
// the revocation store and the device registry it reads at CONNECT, and who owns
// each clientId. A library user passes their own object for any of them
// (createFleetgate's parts.stores); the session backend is chosen beside Aedes'
// persistence (src/sessions/stores.ts).
import { REGISTRY_STORES, REVOCATION_STORES, anyOfRevocations, openRevocationSources, type RevocationSourceChoice } from '../revocation/stores.js'
import { OWNER_STORES } from '../sessions/stores.js'
import { closeStores, openStores, type ClientIdOwnerStore, type DeviceRegistry, type RevocationStore, type StoreChoice } from '../stores/index.js'
import type { AuditLogger } from '../audit/index.js'

/** what a broker node opens with openStores, in this order */
export const FLEETGATE_STORES = {
  revocations: REVOCATION_STORES,
  registry: REGISTRY_STORES,
  owners: OWNER_STORES,
}

export interface FleetgateStores {
  /** revocations: read at CONNECT and watched (live enforcement) */
  readonly revocations: RevocationStore
  /** what the provisioner issued: a vehicle's record read at CONNECT, `issued` -> `active` on its first connect */
  readonly registry: DeviceRegistry
  /**
   * who owns each clientId; it must live where Aedes keeps the sessions: in memory
   * beside Aedes' default persistence, in Redis (RedisClientIdOwners) when several
   * nodes share sessions there (startBroker does this with --redis)
   */
  readonly owners: ClientIdOwnerStore
}

/** The stores of one node, opened (or the caller's own), and how to close them. */
export interface NodeStores extends FleetgateStores {
  /** the revocation store alone (revocations is it and the sources together) */
  readonly store: RevocationStore
  /** the revocation sources the configuration turned on (--crl-url, --ocsp-url, --ocsp-aia) */
  readonly sources: readonly RevocationStore[]
  /** the caller's own objects (they are closed by close() too, but not when the start fails) */
  readonly given: Partial<FleetgateStores>
  close (): Promise<void>
  /** close only what this node opened (a start that failed hands the caller's own stores back untouched) */
  closeOpened (): Promise<void>
}

/**
 * Opened before the first CONNECT. clientId owners live beside the sessions: the
 * caller who chose Aedes' persistence says where (given.owners); else in memory.
 */
export async function openNodeStores (choice: StoreChoice & RevocationSourceChoice, log: AuditLogger, given: Partial<FleetgateStores>, cas: () => readonly Uint8Array[] = () => []): Promise<NodeStores> {
  const { revocations: store, registry, owners } = await openStores(choice, FLEETGATE_STORES, { log, given, backends: { owners: 'embedded' } })
  const own = new Set<unknown>(Object.values(given))
  let sources: RevocationStore[]
  try {
    sources = await openRevocationSources(choice, { log, cas })
  } catch (err) {
    await closeStores([store, registry, owners].filter((s) => !own.has(s))).catch(() => {})
    throw err
  }
  const all = [...sources, store, registry, owners]
  return {
    revocations: anyOfRevocations(store, sources),
    store,
    sources,
    registry,
    owners,
    given,
    close: () => closeStores(all),
    closeOpened: () => closeStores(all.filter((s) => !own.has(s))),
  }
}
