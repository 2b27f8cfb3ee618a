// The ground floor: the plugin contract (checks, reasons, operator errors, the
// identity view). Imports nothing of fleetgate's; every other folder may import it.
export * from './checks.js'
export * from './identity.js'
export * from './reasons.js'
export * from './errors.js'
export * from './topics.js'
export * from './live-sessions.js'
export * from './redis-url.js'
