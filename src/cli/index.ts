// fleetgate/cli: the command line, and what a command that plugs into it is
// built from: one-line errors and exit codes (newCommand, ExitCode; main maps
// them), the shared flag checks, the store options every store-opening command
// takes, progress lines. bin/fleetgate.js adds the simulator's `sim` this way
// (README "Library API").
export { main, buildProgram, type CliOptions } from './main.js'
export { newCommand, ExitCode, requireFlags, durationFlag, countFlag, untilStopped } from './program.js'
export { progressPrinter } from './progress.js'
export { addStoreOptions, openCliStores, resolveStoreChoice, type StoreFlags } from './store-options.js'
export { revokeTargets } from './revoke.js'
