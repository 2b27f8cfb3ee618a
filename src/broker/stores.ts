// The stores a broker node keeps, opened from one choice (src/stores/open.ts):
// the revocation store and the device registry it reads at CONNECT, and who owns
// each clientId. A library user passes their own object for any of them
// (createFleetgate's parts.stores); the session backend is chosen beside Aedes'
// persistence (src/sessions/stores.ts).
import { REGISTRY_STORES, REVOCATION_STORES } from '../revocation/stores.js'
import { OWNER_STORES } from '../sessions/stores.js'
import type { ClientIdOwnerStore, DeviceRegistry, RevocationStore } from '../stores/index.js'

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
