export { createMetrics, type FleetgateMetrics, type MetricSource } from './metrics.js'
export { serveMetrics, DRAIN_HEADER, type MetricsServer, type Readiness, type AdminHandlers, type MetricsSource } from './http.js'
export { shareWithPrimary, primaryMetrics, type PrimaryMetrics } from './cluster.js'
