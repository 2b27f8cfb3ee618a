// A switch that is on by default can be turned off on the command line.
import { expect } from 'chai'
import { serveCommand } from '../../../src/cli/serve.js'
import { resolveConfig, type ConfigInput } from '../../../src/config/index.js'

function parsed (args: string[]): ConfigInput {
  const cmd = serveCommand()
  cmd.exitOverride().action(() => {})
  cmd.parse(args, { from: 'user' })
  return cmd.opts() as ConfigInput
}

describe('serve flags: on-by-default switches', () => {
  it('--enforce-signed-commands is on unless --no-enforce-signed-commands', () => {
    expect(resolveConfig(parsed(['--dev'])).enforceSignedCommands).to.equal(true)
    expect(resolveConfig(parsed(['--dev', '--no-enforce-signed-commands'])).enforceSignedCommands).to.equal(false)
    expect(resolveConfig(parsed(['--dev']), { FLEETGATE_ENFORCE_SIGNED_COMMANDS: 'false' }).enforceSignedCommands).to.equal(false)
  })
})
