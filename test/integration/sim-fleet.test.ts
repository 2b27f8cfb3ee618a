// `fleetgate sim fleet` as a child process against an in-process broker:
// three full cars connect (progress on stderr), one answers a signed command,
// and SIGINT prints the summary.
import { expect } from 'chai'
import { join } from 'node:path'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { runCli, startCli, stopChild } from '../harness/cli.js'
import { connectBackend, credentialsFromFiles, type Backend } from '../../simulator/index.js'

describe('sim fleet', function () {
  this.timeout(30_000)
  let pki: TestPki
  let broker: TestBroker | undefined
  let backend: Backend | undefined
  before(async () => {
    pki = await testPki()
    broker = await startTestBroker(pki.dir)
  })
  after(async () => {
    await backend?.close()
    await broker?.close()
  })

  it('runs N=3 cars, each a full car, and prints a summary on SIGINT', async () => {
    const url = `mqtts://localhost:${broker!.port}`
    const fleet = await startCli(['sim', 'fleet', '--url', url, '--pki', pki.dir, '--vehicles', '3', '--telemetry-interval', '200ms', '--json'],
      /cars online: 3\/3/, { timeoutMs: 15_000 })
    try {
      expect(broker!.audit.find('connect.allow').map((l) => (l.cert as { cn?: string }).cn)).to.include.members(pki.vins.slice(0, 3))
      // one of them executes a genuine signed command
      backend = await connectBackend(url, credentialsFromFiles({ ca: join(pki.dir, 'root-ca.pem'), cert: join(pki.backend, 'cert.pem'), key: join(pki.backend, 'key.pem') }))
      const out = await backend.send({ vin: pki.vins[1]!, cmd: 'honk', ttlMs: 30_000 }, { timeoutMs: 5000 })
      expect(out.kind === 'result' && out.result.status).to.equal('executed')
      // and refuses a command meant for another car
      const wrong = await backend.send({ vin: pki.vins[3]!, cmd: 'honk', ttlMs: 30_000 }, { timeoutMs: 1500 })
      expect(wrong.kind).to.equal('timeout') // vins[3] is not part of this fleet of 3
      await new Promise((resolve) => setTimeout(resolve, 500)) // a few telemetry ticks
    } finally {
      await stopChild(fleet.child, 'SIGINT')
    }
    expect(fleet.child.exitCode).to.equal(0)
    expect(fleet.stderr()).to.match(/SIGINT, stopping 3 cars/)
    const summary = JSON.parse(fleet.stdout().trim().split('\n').pop()!) as Record<string, unknown>
    expect(summary).to.include({ evt: 'summary', vehicles: 3, connected: 3, online: 3, commandsExecuted: 1, errors: 0 })
    expect(summary.telemetrySent as number).to.be.above(0)
    // every car said offline itself on the way out (its retained status)
    const statuses = new Map<string, string>()
    backend!.client.on('message', (topic, payload) => { statuses.set(topic, payload.toString()) })
    await backend!.client.subscribeAsync(pki.vins.slice(0, 3).map((v) => `vehicles/${v}/status`), { qos: 1 })
    for (let i = 0; i < 50 && statuses.size < 3; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    expect([...statuses.values()]).to.deep.equal(Array(3).fill(JSON.stringify({ v: 1, state: 'offline' })))
  })

  it('refuses more cars than the PKI holds with one line, exit 2', async () => {
    const r = await runCli(['sim', 'fleet', '--url', `mqtts://localhost:${broker!.port}`, '--pki', pki.dir, '--vehicles', '99'])
    expect(r.code).to.equal(2)
    expect(r.stderr).to.match(/^FG_ERR_CONFIG_INVALID: --vehicles 99: the PKI in .* holds 4 vehicles; make one with more: fleetgate pki init --vehicles 99/)
    expect(r.stderr.trim().split('\n')).to.have.length(1)
  })
})
