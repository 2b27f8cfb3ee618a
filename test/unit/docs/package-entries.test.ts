// README "Library API": the three package entries resolve by the package's own
// name (package.json "exports", as a user's import would) and give what the
// README names; the simulator and the benchmarks import nothing else.
import { expect } from 'chai'

describe('package entries (README "Library API")', () => {
  it('fleetgate: the library, with the X.509 helpers, keys and provisioning parts the simulator uses', async () => {
    const api = await import('fleetgate') as Record<string, unknown>
    for (const name of ['createFleetgate', 'startBroker', 'ChainVerifier', 'issuedBy', 'generateKey', 'EKU_CLIENT_AUTH', 'SignerVerifier', 'buildCsr', 'mqttsOptions', 'createAuditLogger']) {
      expect(api[name], name).to.not.equal(undefined)
    }
  })

  it('fleetgate/testing: the development PKI', async () => {
    const testing = await import('fleetgate/testing') as Record<string, unknown>
    for (const name of ['initDevPki', 'devPkiPaths', 'loadPki', 'loadCa', 'issueLeaf', 'randomVin', 'randomVins']) expect(testing[name], name).to.be.a('function')
  })

  it('fleetgate/cli: main takes extra commands, listed after the built-in ones', async () => {
    const cli = await import('fleetgate/cli')
    const { Command } = await import('commander')
    const program = cli.buildProgram({ extraCommands: [() => new Command('extra').description('an added command')] })
    const names = program.commands.map((c) => c.name())
    expect(names.at(-1)).to.equal('extra')
    expect(names).to.include.members(['serve', 'pki', 'revoke', 'provisioner'])
    expect(names).to.not.include('sim') // the simulator is added by bin/fleetgate.js, never by the library
  })
})
