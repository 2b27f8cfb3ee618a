// The command line as an operator meets it: help everywhere, one-line errors, exit 2.
import { expect } from 'chai'
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, startCli, stopChild } from '../harness/cli.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { credentials, connect, end } from '../harness/mqtt.js'

describe('fleetgate CLI', function () {
  let pki: TestPki
  before(async () => { pki = await testPki() })

  it('answers --help on every command', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['pki', '--help'], ['pki', 'init', '--help'], ['pki', 'issue', '--help']]) {
      const r = await runCli(args)
      expect(r.code, args.join(' ')).to.equal(0)
      expect(r.stdout, args.join(' ')).to.match(/Usage: fleetgate/)
    }
  })

  it('lists sim, which bin/fleetgate.js adds on top of the library\'s commands, with its subcommands', async () => {
    const top = await runCli(['--help'])
    expect(top.stdout).to.match(/^ {2}sim +the bundled simulator/m)
    const sim = await runCli(['sim', '--help'])
    expect(sim.code).to.equal(0)
    for (const sub of ['car', 'backend', 'fleet', 'attack']) expect(sim.stdout).to.match(new RegExp(`^ {2}${sub} \\[options\\]`, 'm'))
    const usage = await runCli(['sim', 'car', '--url', 'mqtts://127.0.0.1:1'])
    expect(usage.code).to.equal(2)
    expect(usage.stderr).to.equal('FG_ERR_CONFIG_MISSING: --ca is required\n')
  })

  it('lists every serve flag with its environment variable and default', async () => {
    const r = await runCli(['serve', '--help'])
    for (const text of ['--max-packet-size', 'FLEETGATE_MAX_PACKET_SIZE', 'default 128KiB', '--redis', 'REDIS_URL', '--revocation-fail-open', '--enforce-signed-commands', '--no-enforce-signed-commands']) {
      expect(r.stdout).to.include(text)
    }
  })

  const oneLine = (r: { code: number | null; stderr: string }, code: string, pattern: RegExp) => {
    expect(r.code).to.equal(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines, r.stderr).to.have.length(1)
    expect(lines[0]).to.match(new RegExp('^' + code + ': '))
    expect(lines[0]).to.match(pattern)
    expect(r.stderr).to.not.match(/\n\s+at /) // never a stack trace
  }

  it('refuses an unknown flag in one line, exit 2', async () => {
    oneLine(await runCli(['serve', '--prot', '1']), 'FG_ERR_USAGE', /--prot/)
  })

  it('refuses a bad flag value, naming the flag', async () => {
    oneLine(await runCli(['serve', '--max-packet-size', 'lots']), 'FG_ERR_CONFIG_INVALID', /--max-packet-size/)
    oneLine(await runCli(['serve', '--connect-timeout', '-3']), 'FG_ERR_CONFIG_INVALID', /--connect-timeout/)
  })

  it('refuses a bad environment variable, naming it', async () => {
    oneLine(await runCli(['serve'], { env: { FLEETGATE_MAX_CONNECTIONS_PER_IP: 'many' } }), 'FG_ERR_CONFIG_INVALID', /FLEETGATE_MAX_CONNECTIONS_PER_IP/)
  })

  it('refuses --ca without --cert and --key', async () => {
    oneLine(await runCli(['serve', '--ca', join(pki.dir, 'root-ca.pem')]), 'FG_ERR_CONFIG_MISSING', /--cert and --key/)
  })

  it('refuses an unreadable or non-PEM file, naming it', async () => {
    const base = ['serve', '--port', '0', '--ca', join(pki.dir, 'root-ca.pem'), '--cert', join(pki.dir, 'broker', 'cert.pem')]
    oneLine(await runCli([...base, '--key', '/nonexistent/key.pem']), 'FG_ERR_FILE_UNREADABLE', /--key \/nonexistent\/key.pem/)
    oneLine(await runCli([...base, '--key', join(pki.dir, 'root-ca.pem')]), 'FG_ERR_PEM_INVALID', /--key/)
    oneLine(await runCli([...base, '--key', join(pki.dir, 'backend', 'key.pem')]), 'FG_ERR_KEY_MISMATCH', /does not match/)
  })

  it('refuses a policy with a misspelt key, naming file, line and key; nothing half-starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-pol-'))
    const file = join(dir, 'policy.yaml')
    writeFileSync(file, 'roles:\n  vehicle:\n    match: { subject: { OU: vehicle } }\n    clientId: "${subject.CN}"\n    publsh: ["a"]\n')
    const r = await runCli(['serve', '--port', '0', '--policy', file, '--ca', join(pki.dir, 'root-ca.pem'), '--cert', join(pki.dir, 'broker', 'cert.pem'), '--key', join(pki.dir, 'broker', 'key.pem')])
    oneLine(r, 'FG_ERR_POLICY_UNKNOWN_KEY', /policy\.yaml:5: .*"publsh"/)
  })

  it('refuses a role whose clientId template has a wildcard and whose topics use ${clientId}, naming the role', async () => {
    // CN "ops" with "${subject.CN}*" may use clientId "ops-eu": "svc/${clientId}/inbox" would then be the inbox of CN "ops-eu"
    const dir = mkdtempSync(join(tmpdir(), 'fg-pol-'))
    const file = join(dir, 'policy.yaml')
    writeFileSync(file, 'roles:\n  svc:\n    match: { subject: { OU: fleet-backend } }\n    clientId: "${subject.CN}*"\n    subscribe: ["svc/${clientId}/inbox"]\n')
    const r = await runCli(['serve', '--port', '0', '--policy', file, '--ca', join(pki.dir, 'root-ca.pem'), '--cert', join(pki.dir, 'broker', 'cert.pem'), '--key', join(pki.dir, 'broker', 'key.pem')])
    oneLine(r, 'FG_ERR_POLICY_INVALID', /policy\.yaml:2: role "svc": \$\{clientId\} in a topic rule needs an exact clientId template/)
  })

  it('makes the dev PKI on first start and serves mTLS with it (npm start)', async function () {
    this.timeout(30_000)
    const cwd = mkdtempSync(join(tmpdir(), 'fg-start-'))
    const s = await startCli(['serve', '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn'], /mTLS MQTT on 127\.0\.0\.1:(\d+)/, { cwd })
    try {
      expect(s.stderr()).to.match(/making the dev PKI in certs\/dev/)
      const dev = join(cwd, 'certs', 'dev')
      expect(existsSync(join(dev, 'manifest.json'))).to.equal(true)
      const { vins } = JSON.parse((await import('node:fs')).readFileSync(join(dev, 'manifest.json'), 'utf8')) as { vins: string[] }
      const c = await connect(Number(s.match[1]), credentials(dev, join(dev, 'vehicles', vins[0]!)), { clientId: vins[0] })
      await end(c)
    } finally {
      await stopChild(s.child)
    }
    expect(s.child.exitCode).to.equal(0)
  })
})
