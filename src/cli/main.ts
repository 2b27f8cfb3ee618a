// `fleetgate`: the command line (README "Command line").
import { newCommand, reportError } from './program.js'
import { serveCommand } from './serve.js'
import { pkiCommand } from './pki.js'
import { revokeCommand } from './revoke.js'
import { crlCommand } from './crl.js'
import { revocationsCommand } from './revocations.js'
import { simCommand } from './sim.js'
import { provisionerCommand } from './provisioner.js'

export function buildProgram () {
  const program = newCommand('fleetgate', 'mutual-TLS MQTT security layer for vehicle fleets')
    .version('0.1.0')
    .enablePositionalOptions()
  program.addCommand(serveCommand())
  program.addCommand(pkiCommand())
  program.addCommand(revokeCommand())
  program.addCommand(crlCommand())
  program.addCommand(revocationsCommand())
  program.addCommand(simCommand())
  program.addCommand(provisionerCommand())
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
