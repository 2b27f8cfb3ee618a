export { createMetrics, type FleetgateMetrics, type MetricSource } from './metrics.js'
export { serveMetrics, type MetricsServer } from './http.js'
