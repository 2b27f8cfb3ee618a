// What one provisioned car costs in Redis commands on fleetgate's own links
// (issue 17 item 4): birth-certificate connect, SUBSCRIBE, request, response,
// then a connect with the issued certificate (first_connect), through the
// broker (Redis store, in process) and a real `fleetgate provisioner`. Counted
// with MONITOR per link, after a warm-up car (scripts loaded), three cars one
// after the other. Each link's budget per car is asserted exactly: a command
// added on this path (a second registry read, the rate limit apart from the
// claim, the persistent-session queue's writes outside its one script, an
// ioredis Pipeline's MULTI) fails here, and the new budget is then a decision
// (2026-12-08: a clean CONNECT's queue discard, one script, for its LRANGE).
import { expect } from 'chai'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { testPki, type TestPki } from '../harness/pki.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startCli, stopChild } from '../harness/cli.js'
import { end, tryConnect } from '../harness/mqtt.js'
import { generateKey, randomVin } from '../../src/pki/index.js'
import { buildCsr } from '../../src/provisioning/index.js'
import { exchange } from '../../simulator/provisioning.js'

const CARS = 3

describe('provisioning: Redis commands per provisioned car, per link', function () {
  this.timeout(60_000)
  let pki: TestPki
  let redis: TestRedis
  let broker: TestBroker
  let prov: { child: ChildProcess }
  let root: Buffer

  before(async function () {
    pki = await testPki()
    root = readFileSync(join(pki.dir, 'root-ca.pem'))
    redis = await startRedis()
    // no periodic re-check of live sessions inside the counted window
    broker = await startTestBroker(pki.dir, { redis: redis.url, revocationRecheck: 3_600_000 })
    prov = await startCli([
      'provisioner', '--url', `mqtts://127.0.0.1:${broker.port}`, '--ca', join(pki.dir, 'root-ca.pem'),
      '--cert', join(pki.provisioner, 'cert.pem'), '--key', join(pki.provisioner, 'key.pem'),
      '--issuer-cert', join(pki.dir, 'issuing-ca.pem'), '--issuer-key', join(pki.dir, 'issuing-ca.key'),
      '--redis', redis.url, '--grace', '1h', '--cert-lifetime', '2h',
    ], /fleetgate provisioner: /)
  })

  after(async function () {
    await stopChild(prov?.child)
    await broker?.close()
    await redis?.stop()
  })

  /** one car, end to end; resolves once the provisioner has handled its first connect */
  async function provisionCar (): Promise<void> {
    const vin = randomVin()
    const birth = await pki.extra(`birth-${vin}`, 'factory', vin)
    const b = await tryConnect(broker.port, { ca: root, cert: readFileSync(join(birth, 'cert.pem')), key: readFileSync(join(birth, 'key.pem')) }, { clientId: vin })
    if (!b.ok) throw new Error(`birth connect refused: ${b.error}`)
    const key = generateKey()
    const r = await exchange(b.client, 'provision', vin, buildCsr(key, [['CN', vin]]), { timeoutMs: 10_000 })
    await end(b.client)
    if (r.status !== 'issued') throw new Error(`not issued: ${JSON.stringify(r)}`)
    const op = await tryConnect(broker.port, { ca: root, cert: Buffer.from(r.certificate + r.chain), key: Buffer.from(key.export({ type: 'pkcs8', format: 'pem' }) as string) }, { clientId: vin })
    if (!op.ok) throw new Error(`operational connect refused: ${op.error}`)
    await end(op.client)
  }

  it('fleetgate\'s own links: 27 commands per car (revocation lookups 12, registry 6, clientId owners 4, provisioner state 2, persistent-session queue 1, clean-session queue discards 2)', async function () {
    await provisionCar() // warm-up: scripts loaded (EVALSHA from here on), links connected
    const admin = new Redis(redis.url)
    const names = new Map<string, string>()
    for (const line of (await admin.client('LIST') as string).split('\n')) {
      const addr = /\baddr=(\S+)/.exec(line)?.[1]
      if (addr) names.set(addr, /\bname=(\S*)/.exec(line)?.[1] ?? '')
    }
    const monitor = await admin.monitor()
    const seen: Array<{ link: string; cmd: string }> = []
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') seen.push({ link: names.get(source) ?? source, cmd: String(args[0]).toUpperCase() })
    })
    try {
      await new Promise((resolve) => setTimeout(resolve, 200))
      seen.length = 0
      for (let i = 0; i < CARS; i++) await provisionCar()
      // the first_connect's mark and the provisioner's retirement check run after the connect: wait until quiet
      for (let n = -1; n !== seen.length;) { n = seen.length; await new Promise((resolve) => setTimeout(resolve, 500)) }
    } finally {
      monitor.disconnect()
      admin.disconnect()
    }
    const perCar = (link: string) => {
      const counts: Record<string, number> = {}
      for (const s of seen) if (s.link === link) counts[s.cmd] = (counts[s.cmd] ?? 0) + 1
      return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / CARS]))
    }
    // broker and provisioner each have a link of this name (revocation store and registry):
    // two connects' lookups (6 HMGET each: revoked and state, by fingerprint and by issuer + serial),
    // the connect's registry read (HGET) and first_connect (one script); the provisioner's
    // registry read and write (HGETALL + HSET), its read again after the write, and its read at first_connect
    expect(perCar('fleetgate-revocation')).to.deep.equal({ HMGET: 12, HGET: 1, EVALSHA: 1, HGETALL: 3, HSET: 1 })
    // claim and release per connection, each one script
    expect(perCar('fleetgate-owners')).to.deep.equal({ EVALSHA: 4 })
    // claim + rate limit in one script, the answer in another
    expect(perCar('fleetgate-provisioner')).to.deep.equal({ EVALSHA: 2 })
    // the request queued for the provisioner's persistent session: one script (no MSET, RPUSH, MULTI outside it)
    const persistence = perCar('fleetgate-mqtt-persistence')
    expect(persistence).to.not.have.any.keys('MSET', 'RPUSH', 'MULTI', 'EXEC', 'LRANGE')
    // the queueing, the provisioner's PUBACK clearing it, and each of the car's two clean CONNECTs discarding
    // any queue a previous session left (in place of reading it for Aedes to clear: sessions/backlog.ts)
    expect(persistence.EVALSHA).to.equal(4)
  })
})
