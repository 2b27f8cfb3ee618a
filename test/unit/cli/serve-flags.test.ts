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

describe('serve flags: URL lists (--crl-url, --ocsp-url) and --expiry-warning', () => {
  it('a repeated flag, or a comma-separated variable, is a list of http(s) URLs', () => {
    expect(resolveConfig(parsed(['--dev', '--crl-url', 'http://ca.example/a.crl', '--crl-url', 'https://ca.example/b.crl'])).crlUrl)
      .to.deep.equal(['http://ca.example/a.crl', 'https://ca.example/b.crl'])
    expect(resolveConfig(parsed(['--dev']), { FLEETGATE_OCSP_URL: 'http://ocsp.example/, http://ocsp2.example/' }).ocspUrl)
      .to.deep.equal(['http://ocsp.example/', 'http://ocsp2.example/'])
    expect(resolveConfig(parsed(['--dev'])).crlUrl).to.equal(undefined)
  })

  it('refuses a URL of another scheme, naming the flag, in one line', () => {
    expect(() => resolveConfig(parsed(['--dev', '--crl-url', 'ftp://ca.example/a.crl']))).to.throw(/^--crl-url: expected an http:\/\/ or https:\/\/ URL, got "ftp:"$/)
    expect(() => resolveConfig(parsed(['--dev', '--ocsp-url', 'not a url']))).to.throw(/^--ocsp-url: not a URL: "not a url"$/)
  })

  it('--expiry-warning is a duration, 14 days by default; --crl-stale and --ocsp-unavailable refuse by default', () => {
    const c = resolveConfig(parsed(['--dev']))
    expect(c.expiryWarning).to.equal(14 * 86_400_000)
    expect(c.crlStale).to.equal('refuse')
    expect(c.ocspUnavailable).to.equal('refuse')
    expect(resolveConfig(parsed(['--dev', '--expiry-warning', '30d'])).expiryWarning).to.equal(30 * 86_400_000)
    expect(resolveConfig(parsed(['--dev', '--expiry-warning', '0'])).expiryWarning).to.equal(0)
  })
})
