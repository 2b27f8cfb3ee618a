// `fleetgate`: the command line (DESIGN "Command line").
import { newCommand, reportError } from './program.js'
import { serveCommand } from './serve.js'
import { pkiCommand } from './pki.js'

export function buildProgram () {
  const program = newCommand('fleetgate', 'mutual-TLS MQTT security layer for vehicle fleets')
    .version('0.1.0')
    .enablePositionalOptions()
  program.addCommand(serveCommand())
  program.addCommand(pkiCommand())
  return program
}

export async function main (argv: readonly string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv as string[], { from: 'user' })
    return 0
  } catch (err) {
    return reportError(err)
  }
}
