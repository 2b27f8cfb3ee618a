// Interop with the mosquitto command-line clients (a second MQTT/TLS stack).
import { expect } from 'chai'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'

// The broker runs in this process: never block its event loop with a *Sync child.
function run (cmd: string, args: string[], timeoutMs = 8000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d })
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (code) => { clearTimeout(t); resolve({ code, stderr }) })
  })
}

function tlsArgs (pki: TestPki, dir: string): string[] {
  return ['-h', '127.0.0.1', '--cafile', join(pki.dir, 'root-ca.pem'), '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem')]
}

describe('mosquitto_pub / mosquitto_sub', function () {
  let pki: TestPki
  let broker: TestBroker
  before(async () => { pki = await testPki(); broker = await startTestBroker(pki.dir) })
  after(async () => { await broker?.close() })

  it('a vehicle publishes its telemetry with mosquitto_pub and a backend reads it with mosquitto_sub', async () => {
    const vin = pki.vins[0]!
    const sub = spawn('mosquitto_sub', [...tlsArgs(pki, pki.backend), '-p', String(broker.port), '-i', 'fleet-backend-sub', '-t', 'vehicles/+/telemetry/+', '-C', '1', '-v', '-W', '8'])
    let out = ''
    sub.stdout.on('data', (d: Buffer) => { out += d })
    const subExited = new Promise<void>((resolve) => sub.once('exit', () => resolve())) // before it can exit
    await broker.audit.waitFor('connect.allow', { role: 'fleet-backend' })
    await new Promise((r) => setTimeout(r, 200))
    const pub = await run('mosquitto_pub', [...tlsArgs(pki, pki.vehicle(0)), '-p', String(broker.port), '-i', vin, '-q', '1', '-t', `vehicles/${vin}/telemetry/speed`, '-m', '88'])
    expect(pub.code, pub.stderr).to.equal(0)
    await subExited
    expect(out.trim()).to.equal(`vehicles/${vin}/telemetry/speed 88`)
  })

  it('mosquitto_pub into another car\'s topic is refused and audited', async () => {
    const vin = pki.vins[0]!
    broker.audit.clear()
    await run('mosquitto_pub', [...tlsArgs(pki, pki.vehicle(0)), '-p', String(broker.port), '-i', vin, '-q', '1', '-t', `vehicles/${pki.vins[1]}/telemetry/speed`, '-m', '1'])
    const line = await broker.audit.waitFor('publish.deny', { reason: 'topic_denied' })
    expect(line.topic).to.equal(`vehicles/${pki.vins[1]}/telemetry/speed`)
  })

  it('mosquitto_pub with the wrong clientId gets CONNACK 5', async () => {
    const r = await run('mosquitto_pub', [...tlsArgs(pki, pki.vehicle(0)), '-p', String(broker.port), '-i', 'not-my-vin', '-t', 'x', '-m', '1'])
    expect(r.code).to.not.equal(0)
    expect(r.stderr).to.match(/not authori[sz]ed/i)
  })
})
