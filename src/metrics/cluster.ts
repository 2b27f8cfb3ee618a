// One metrics view for the worker processes of a node (serve --workers): each worker
// hands its registry to prom-client's cluster aggregator, the primary sums them (counters
// and gauges by label set) and adds its own figures (workers up, restarts).
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client'

/** In a worker: answer the primary's metrics requests from this registry. */
export function shareWithPrimary (registry: Registry): void {
  new AggregatorRegistry() // its constructor installs the worker's listener (once)
  AggregatorRegistry.setRegistries([registry])
}

export interface PrimaryMetrics {
  /** the Prometheus text of every worker summed, then the primary's own */
  body (): Promise<{ contentType: string; body: string }>
  restarted (): void
}

export function primaryMetrics (workersUp: () => number): PrimaryMetrics {
  const aggregator = new AggregatorRegistry()
  const own = new Registry()
  new Gauge({ name: 'fleetgate_workers', help: 'worker processes of this node up now', registers: [own], collect () { this.set(workersUp()) } })
  const restarts = new Counter({ name: 'fleetgate_worker_restarts_total', help: 'worker processes restarted by the primary after they died', registers: [own] })
  return {
    async body () {
      const [workers, mine] = await Promise.all([aggregator.clusterMetrics(), own.metrics()])
      return { contentType: own.contentType, body: workers + (workers.endsWith('\n') || workers === '' ? '' : '\n') + mine }
    },
    restarted: () => restarts.inc(),
  }
}
