export { resolveConfig, resolveOptions, workerCount, MAX_WORKERS, type Config, type ConfigInput } from './config.js'
export { SERVE_OPTIONS, flagOf, envOf, defaultText, type ServeOptionName, type OptionSpec, type OptionKind, type OptionValue, type OptionsOf } from './schema.js'
export { parseDuration, parseSize, formatDuration, formatSize } from './units.js'
export { HYBRID_GROUP, isKnownGroup, resolveGroups } from './tls-groups.js'
