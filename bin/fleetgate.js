#!/usr/bin/env node
// The application: fleetgate's command line with the bundled simulator's `sim` added on top.
import { main } from '../dist/src/cli/index.js'
import { simCommand } from '../dist/simulator/cli/sim.js'
main(process.argv.slice(2), { extraCommands: [simCommand] }).then((code) => { if (typeof code === 'number') process.exitCode = code })
