// A car's replay window across a restart (security review 10): a command the car
// executed must not be executed again after the car restarts. With --state-dir the
// car keeps its replay memory (replay.json); without it, it refuses every command
// issued before it started. The real car process, a real broker, a real backend.
import { expect } from 'chai'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { credentials, connect, end } from '../harness/mqtt.js'
import { CarProcess, commandBody, rawSigner, sign } from './signed-commands-support.js'

describe('car: no replay across a restart', function () {
  this.timeout(60_000)
  let pki: TestPki
  let broker: TestBroker
  let backend: MqttClient
  let vin: string
  before(async () => {
    pki = await testPki()
    vin = pki.vins[2]!
    broker = await startTestBroker(pki.dir)
    backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-replay' })
  })
  after(async () => { await end(backend); await broker?.close() })

  async function executedThenRestarted (extra: string[]): Promise<{ jws: string; jti: string; car: CarProcess }> {
    const first = await CarProcess.start(broker.port, pki.dir, pki.vehicle(2), vin, extra)
    const b = commandBody(vin, 'unlock')
    const jws = sign(rawSigner(pki.backend), b)
    await backend.publishAsync(`vehicles/${vin}/commands`, jws, { qos: 1 })
    await first.waitFor((l) => l.evt === 'command' && l.jti === b.jti && l.status === 'executed')
    await first.stop()
    const again = await CarProcess.start(broker.port, pki.dir, pki.vehicle(2), vin, extra)
    return { jws, jti: b.jti, car: again }
  }

  it('with --state-dir: the replay memory survives, the replayed command is refused, a new one runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-car-state-'))
    const { jws, jti, car } = await executedThenRestarted(['--state-dir', dir])
    try {
      expect(JSON.parse(readFileSync(join(dir, 'replay.json'), 'utf8')).map((e: [string, number]) => e[0])).to.include(jti)
      await backend.publishAsync(`vehicles/${vin}/commands`, jws, { qos: 1 })
      const line = await car.waitFor((l) => l.evt === 'command' && l.jti === jti)
      expect(line).to.deep.include({ status: 'rejected', reason: 'replayed' })
      expect(String(line.detail)).to.match(/jti already seen/)
      const fresh = commandBody(vin, 'lock')
      await backend.publishAsync(`vehicles/${vin}/commands`, sign(rawSigner(pki.backend), fresh), { qos: 1 })
      expect(await car.waitFor((l) => l.evt === 'command' && l.jti === fresh.jti)).to.deep.include({ status: 'executed' })
    } finally { await car.stop() }
  })

  it('without a state dir: a command issued before the car started is refused (replayed)', async () => {
    const { jws, jti, car } = await executedThenRestarted([])
    try {
      await backend.publishAsync(`vehicles/${vin}/commands`, jws, { qos: 1 })
      const line = await car.waitFor((l) => l.evt === 'command' && l.jti === jti)
      expect(line).to.deep.include({ status: 'rejected', reason: 'replayed' })
      expect(String(line.detail)).to.match(/issued before this car began remembering/)
    } finally { await car.stop() }
  })
})
