// The command line as an operator meets it: help everywhere, one-line errors, exit 2.
import { expect } from 'chai'
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, startCli, stopChild } from '../harness/cli.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { credentials, connect, tryConnect, end } from '../harness/mqtt.js'

describe('fleetgate CLI', function () {
  let pki: TestPki
  before(async () => { pki = await testPki() })

  it('answers --help on every command', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['pki', '--help'], ['pki', 'dev', '--help'], ['pki', 'init', '--help'], ['pki', 'issue', '--help']]) {
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
    for (const text of ['--max-packet-size', 'FLEETGATE_MAX_PACKET_SIZE', 'default 128KiB', '--redis', 'REDIS_URL', '--revocation-fail-open', '--enforce-signed-commands', '--no-enforce-signed-commands', '--dev ', 'FLEETGATE_DEV,', '--dev-pki']) {
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
    oneLine(await runCli(['serve', '--dev', '--tls-groups', 'X25519:NOPE']), 'FG_ERR_CONFIG_INVALID', /--tls-groups: unknown group "NOPE"/)
    oneLine(await runCli(['serve', '--dev', '--tls-resumption', 'maybe']), 'FG_ERR_CONFIG_INVALID', /--tls-resumption: expected one of on, off/)
  })

  it('lists the accept flags and refuses a PROXY setup that would believe anyone, in one line', async () => {
    const help = await runCli(['serve', '--help'])
    for (const text of ['--proxy-protocol', 'FLEETGATE_PROXY_PROTOCOL', '--proxy-from', 'FLEETGATE_PROXY_FROM', '--max-connect-rate', '--max-handshakes', '--max-connections ']) expect(help.stdout).to.include(text)
    oneLine(await runCli(['serve', '--dev', '--proxy-protocol']), 'FG_ERR_CONFIG_MISSING', /--proxy-protocol needs --proxy-from/)
    oneLine(await runCli(['serve', '--dev', '--proxy-protocol', '--proxy-from', '10.0.0.0/33']), 'FG_ERR_CONFIG_INVALID', /--proxy-from: "10.0.0.0\/33": prefix length must be 0-32/)
    oneLine(await runCli(['serve', '--dev'], { env: { FLEETGATE_PROXY_FROM: '10.0.0.1' } }), 'FG_ERR_CONFIG_INVALID', /--proxy-from is given without --proxy-protocol/)
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

  it('serve without --ca, --cert and --key: exit 2, one line naming them and "pki dev"; no key, no directory made', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'fg-start-'))
    const r = await runCli(['serve', '--port', '0', '--host', '127.0.0.1'], { cwd })
    oneLine(r, 'FG_ERR_CONFIG_MISSING', /^FG_ERR_CONFIG_MISSING: --ca, --cert and --key are required; for a development PKI run "fleetgate pki dev", then "fleetgate serve --dev"$/)
    expect(readdirSync(cwd), 'nothing written in the working directory').to.deep.equal([])
  })

  it('serve --dev without a dev PKI: exit 2, one line naming the directory and "pki dev"; it makes nothing', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'fg-start-'))
    oneLine(await runCli(['serve', '--dev', '--port', '0', '--host', '127.0.0.1'], { cwd }), 'FG_ERR_CONFIG_MISSING',
      /^FG_ERR_CONFIG_MISSING: --dev: no dev PKI in certs\/dev; make it with "fleetgate pki dev"$/)
    oneLine(await runCli(['serve', '--port', '0'], { cwd, env: { FLEETGATE_DEV: 'true', FLEETGATE_DEV_PKI: 'elsewhere' } }), 'FG_ERR_CONFIG_MISSING',
      /"fleetgate pki dev --dev-pki elsewhere"$/)
    expect(readdirSync(cwd), 'nothing written in the working directory').to.deep.equal([])
  })

  it('pki dev makes the dev PKI once and reuses it after; serve --dev serves mTLS with it (npm start)', async function () {
    this.timeout(60_000)
    const cwd = mkdtempSync(join(tmpdir(), 'fg-start-'))
    const made = await runCli(['pki', 'dev'], { cwd, timeoutMs: 40_000 })
    expect(made.code, made.stderr).to.equal(0)
    expect(made.stdout).to.match(/^dev PKI in certs\/dev: made \(root, issuing and manufacturing CAs; .*\); policy certs\/dev\/policy\.yaml; serve it with: fleetgate serve --dev\n$/)
    const dev = join(cwd, 'certs', 'dev')
    const root = readFileSync(join(dev, 'root-ca.pem'), 'utf8')
    expect(statSync(join(dev, 'broker', 'key.pem')).mode & 0o777).to.equal(0o600)
    const again = await runCli(['pki', 'dev'], { cwd })
    expect(again.code, again.stderr).to.equal(0)
    expect(again.stdout).to.match(/^dev PKI in certs\/dev: reused, made \S+ \(.*\); policy certs\/dev\/policy\.yaml; serve it with: fleetgate serve --dev\n$/)
    expect(readFileSync(join(dev, 'root-ca.pem'), 'utf8'), 'the same root CA').to.equal(root)

    const s = await startCli(['serve', '--dev', '--port', '0', '--host', '127.0.0.1', '--log-level', 'warn'], /mTLS MQTT on 127\.0\.0\.1:(\d+)/, { cwd })
    try {
      expect(s.stderr()).to.include('(dev PKI in certs/dev, policy certs/dev/policy.yaml;')
      const port = Number(s.match[1])
      const { vins } = JSON.parse(readFileSync(join(dev, 'manifest.json'), 'utf8')) as { vins: string[] }
      await end(await connect(port, credentials(dev, join(dev, 'vehicles', vins[0]!)), { clientId: vins[0] }))
      // the listener trusts this dev PKI's root only: a car of another PKI is refused in the handshake
      const stranger = await tryConnect(port, { ...credentials(pki.dir, pki.vehicle(0)), ca: Buffer.from(root) }, { clientId: pki.vins[0] })
      expect(stranger.ok).to.equal(false)
      if (!stranger.ok) expect(stranger.returnCode).to.equal(undefined)
    } finally {
      await stopChild(s.child)
    }
    expect(s.child.exitCode).to.equal(0)
  })
})
