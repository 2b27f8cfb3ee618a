// The factory map of the provisioner's state (chosen by src/stores/open.ts), and
// the stores a provisioner opens: the revocation store and device registry it
// writes (the broker reads them), and its own state. A new implementation is a
// file beside these plus one line in its map.
import { fgError } from '../contract/errors.js'
import { DEFAULT_PREFIX, type DeviceRegistry, type RevocationStore, type StoreFactories } from '../stores/index.js'
import { REGISTRY_STORES, REVOCATION_STORES } from '../revocation/stores.js'
import { FileProvisionerState, type ProvisionerState } from './state.js'
import { RedisProvisionerState } from './redis-state.js'

export const PROVISIONING_STATE_STORES: StoreFactories<ProvisionerState> = {
  embedded: async (choice) => new FileProvisionerState(choice.dataDir),
  redis: async (choice) => {
    if (!choice.redis) throw fgError('FG_ERR_CONFIG_MISSING', 'the redis provisioner state needs --redis <url> (REDIS_URL)')
    return await RedisProvisionerState.open(choice.redis, choice.redisPrefix ?? DEFAULT_PREFIX)
  },
}

/** what a provisioner opens with openStores, in this order */
export const PROVISIONER_STORES = {
  revocations: REVOCATION_STORES,
  registry: REGISTRY_STORES,
  state: PROVISIONING_STATE_STORES,
}

export interface ProvisionerStores {
  readonly revocations: RevocationStore
  readonly registry: DeviceRegistry
  readonly state: ProvisionerState
}
