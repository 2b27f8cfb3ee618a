// `fleetgate`: the command line (README "Command line"). The application entry
// bin/fleetgate.js adds the simulator's `sim` through extraCommands: the
// library never imports the simulator.
import type { Command } from 'commander'
import { newCommand, reportError } from './program.js'
import { serveCommand } from './serve.js'
import { pkiCommand } from './pki.js'
import { revokeCommand } from './revoke.js'
import { certCommand } from './cert.js'
import { crlCommand } from './crl.js'
import { revocationsCommand } from './revocations.js'
import { provisionerCommand } from './provisioner.js'
import { drainCommand } from './drain.js'

export interface CliOptions {
  /** top-level commands from outside the library (e.g. `sim`), listed after the built-in ones */
  readonly extraCommands?: ReadonlyArray<() => Command>
}

export function buildProgram (opts: CliOptions = {}): Command {
  const program = newCommand('fleetgate', 'mutual-TLS MQTT security layer for vehicle fleets')
    .version('0.1.0')
    .enablePositionalOptions()
  program.addCommand(serveCommand())
  program.addCommand(pkiCommand())
  program.addCommand(revokeCommand())
  program.addCommand(certCommand())
  program.addCommand(crlCommand())
  program.addCommand(revocationsCommand())
  program.addCommand(provisionerCommand())
  program.addCommand(drainCommand())
  for (const make of opts.extraCommands ?? []) program.addCommand(make())
  return program
}

export async function main (argv: readonly string[], opts: CliOptions = {}): Promise<number> {
  const program = buildProgram(opts)
  try {
    await program.parseAsync(argv as string[], { from: 'user' })
    return 0
  } catch (err) {
    return reportError(err)
  }
}
