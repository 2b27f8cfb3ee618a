// One prom-client registry per fleetgate instance (two brokers in one process
// do not mix their figures). Labels are reasons and event names only, never
// client-chosen strings.
import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client'
import type { DecisionCounter } from '../contract/checks.js'

export interface FleetgateMetrics {
  readonly registry: Registry
  /** fleetgate_decisions_total{evt,reason} */
  readonly decisions: DecisionCounter
  /** fleetgate_certificates_expiring_total{which}: connects whose leaf or CA expires within --expiry-warning (cert.expiring) */
  readonly certificatesExpiring: { inc (which: 'leaf' | 'ca'): void }
  /** live figures read at scrape time */
  track (source: MetricSource): void
}

export interface MetricSource {
  /** authenticated sessions */
  sessions (): number
  /** TLS connections handed to Aedes (authenticated or not yet) */
  connections (): number
}

export function createMetrics (opts: { processMetrics?: boolean } = {}): FleetgateMetrics {
  const registry = new Registry()
  // Counted in a Map and handed to prom-client when it is scraped: prom-client hashes and
  // validates the labels on every inc, and every CONNECT counts one decision or more.
  const pending = new Map<string, { evt: string; reason: string; n: number }>()
  const count = (evt: string, reason: string, n: number) => {
    const key = evt + '\u0000' + reason
    const p = pending.get(key)
    if (p === undefined) pending.set(key, { evt, reason, n })
    else p.n += n
  }
  new Counter({
    name: 'fleetgate_decisions_total',
    help: 'decisions about clients, by audit event and reason',
    labelNames: ['evt', 'reason'] as const,
    registers: [registry],
    collect () {
      for (const p of pending.values()) if (p.n > 0) { this.inc({ evt: p.evt, reason: p.reason }, p.n); p.n = 0 }
    },
  })
  let source: MetricSource | undefined
  new Gauge({
    name: 'fleetgate_sessions',
    help: 'authenticated MQTT sessions on this node',
    registers: [registry],
    collect () { this.set(source?.sessions() ?? 0) },
  })
  new Gauge({
    name: 'fleetgate_connections',
    help: 'TLS connections handed to the broker on this node',
    registers: [registry],
    collect () { this.set(source?.connections() ?? 0) },
  })
  const expiring = new Counter({
    name: 'fleetgate_certificates_expiring_total',
    help: 'connects whose certificate (which="leaf") or a CA above it (which="ca") expires within --expiry-warning',
    labelNames: ['which'] as const,
    registers: [registry],
  })
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'fleetgate_' })
  return {
    registry,
    decisions: { inc: (evt, reason) => count(evt, reason, 1), add: (evt, reason, n) => { if (n > 0) count(evt, reason, n) } },
    certificatesExpiring: { inc: (which) => expiring.inc({ which }) },
    track (s) { source = s },
  }
}
