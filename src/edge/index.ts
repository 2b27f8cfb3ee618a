// Broker-edge checks beyond the topic rules.
export { commandEdgeCheck, type CommandEdgeOptions, type SignerRevocationLookup } from './command-check.js'
export { edgeCommandTrust } from './trust.js'
