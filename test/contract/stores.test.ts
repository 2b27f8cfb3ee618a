// Every store implementation against its port's contract, the way
// aedes-persistence ships abstract tests: one describe* per port, called once per
// entry of that kind's factory map, each opened through the map with a
// StoreChoice naming it. A store added to a map is run here with no new line.
// Redis ones on a throwaway redis-server (test/harness/redis.ts).
import { Aedes } from 'aedes'
import { Redis } from 'ioredis'
import { openStore, storeContext, type StoreChoice, type StoreFactories } from '../../src/stores/index.js'
import { REGISTRY_STORES, REVOCATION_STORES } from '../../src/revocation/index.js'
import { OWNER_STORES, SESSION_STORES, type SessionBackendOptions } from '../../src/sessions/index.js'
import { PROVISIONING_STATE_STORES } from '../../src/provisioning/stores.js'
import { clusterParts } from '../../src/cluster/index.js'
import { createMq } from '../../src/cluster/mq.js'
import { closeBroker } from '../../src/aedes/adapter.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import type { Place } from './harness.js'
import { describeRevocationStore } from './revocation-store.js'
import { describeDeviceRegistry } from './device-registry.js'
import { describeClientIdOwnerStore } from './client-id-owners.js'
import { describeProvisionerState } from './provisioner-state.js'
import { describeSessionBackend } from './session-backend.js'

describe('store contracts', function () {
  let redis: TestRedis
  before(async function () { this.timeout(20_000); redis = await startRedis() })
  after(async () => { await redis?.stop() })

  /** the choice naming `backend`, on this test's place: its data dir, or a Redis prefix of its own */
  const choiceFor = (backend: string, place: Place): StoreChoice =>
    ({ backend, dataDir: place.dir, redis: redis.url, redisPrefix: `t-${place.id}:`, revocationTimeout: 1000 })
  const opener = <T>(kind: string, map: StoreFactories<T>, backend: string) =>
    (place: Place) => openStore(kind, map, choiceFor(backend, place), storeContext())

  for (const name of Object.keys(REVOCATION_STORES)) describeRevocationStore(name, opener('revocation', REVOCATION_STORES, name))
  for (const name of Object.keys(REGISTRY_STORES)) describeDeviceRegistry(name, opener('registry', REGISTRY_STORES, name))
  for (const name of Object.keys(OWNER_STORES)) describeClientIdOwnerStore(name, opener('owner', OWNER_STORES, name))
  for (const name of Object.keys(PROVISIONING_STATE_STORES)) describeProvisionerState(name, opener('provisioning state', PROVISIONING_STATE_STORES, name))

  // Session backends sit beside Aedes' persistence: in Redis that is aedes-persistence-redis
  // (src/cluster), whose keys are not prefixed, so each test starts on an empty Redis.
  for (const name of Object.keys(SESSION_STORES)) {
    describeSessionBackend(name, async (deps) => {
      const opts: SessionBackendOptions = { deps, prefix: 'fleetgate:' }
      if (name !== 'redis') {
        const backend = SESSION_STORES[name]!(opts)
        const broker = await Aedes.createBroker({ persistence: backend.persistence, mq: createMq() })
        return { backend, broker, close: async () => { await new Promise<void>((resolve) => broker.close(() => resolve())); await backend.close() } }
      }
      const flush = new Redis(redis.url)
      try { await flush.flushall() } finally { flush.disconnect() }
      const cluster = clusterParts(redis.url)
      const backend = SESSION_STORES[name]!({ ...opts, redis: { conn: cluster.persistenceConn, persistence: cluster.persistence as object } })
      const broker = await Aedes.createBroker({ persistence: backend.persistence, mq: cluster.mq as never })
      return {
        backend,
        broker,
        // as `fleetgate serve` closes: bounded (closeBroker says why), then the links dropped
        close: async () => { await closeBroker(broker); await backend.close(); cluster.disconnect() },
      }
    })
  }
})
