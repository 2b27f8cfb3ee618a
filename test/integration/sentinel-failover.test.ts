// Redis without a single point of failure: two fleetgate nodes on a master, a
// replica and three Sentinels (redis+sentinel://). The master is killed
// (SIGKILL) while cars publish QoS 1 to a persistent subscriber on the other
// node and a revocation has just been written. A failover is a stall, not an
// outage: no node restarts, live sessions stay, every PUBACKed message is
// delivered, new connects are refused while no master answers (one audit line
// per outage) and admitted again by themselves, and the revoked car stays
// refused. A revocation written with no replica left says it is not
// replicated (exit 3).
import { expect } from 'chai'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import { startSentinels, type SentinelSetup } from '../harness/sentinel.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, end, tryConnect, closed } from '../harness/mqtt.js'
import { runCli } from '../harness/cli.js'
import { randomVin } from '../../src/pki/index.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('Sentinel: a master killed mid-traffic is a stall, not an outage', function () {
  this.timeout(60_000)
  let redis: SentinelSetup
  let pki: TestPki
  let a: TestBroker
  let b: TestBroker
  const clients: MqttClient[] = []

  before(async () => {
    ;[redis, pki] = await Promise.all([startSentinels(), testPki()])
    await redis.replicasOnline(1)
    a = await startTestBroker(pki.dir, { redis: redis.url })
    b = await startTestBroker(pki.dir, { redis: redis.url })
  })
  after(async () => { await end(...clients); await a?.close(); await b?.close(); await redis?.stop() })

  it('loses no PUBACKed message, keeps live sessions, refuses the revoked car throughout, recovers by itself', async () => {
    expect(a.storeReachable() && b.storeReachable(), 'both nodes on the master').to.equal(true)
    // a persistent subscriber on node A; three cars on node B publishing QoS 1 with sequence numbers
    const backend = await connect(a.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-failover', clean: false, keepalive: 30 })
    clients.push(backend)
    await backend.subscribeAsync('vehicles/+/telemetry/+', { qos: 1 })
    const got = new Set<string>()
    const gotTimes: number[] = []
    backend.on('message', (_t, payload) => { got.add(payload.toString()); gotTimes.push(Date.now()) })
    const cars = await Promise.all([0, 1, 2].map(async (i) => {
      const c = await connect(b.port, credentials(pki.dir, pki.vehicle(i)), { clientId: pki.vins[i]!, keepalive: 30 })
      clients.push(c)
      return c
    }))
    let closes = 0
    for (const c of [backend, ...cars]) c.on('close', () => closes++)

    // the car to revoke, live on node B
    const vin = randomVin()
    const revokedDir = await pki.extra('failover-revoked', 'vehicle', vin)
    const revokedCar = await connect(b.port, credentials(pki.dir, revokedDir), { clientId: vin })
    clients.push(revokedCar)

    // publishers: each car, one QoS 1 message every 40 ms, one in flight at a time (as a car sends)
    const acked: string[] = []
    const ackTimes: number[] = []
    let publishing = true
    const loops = cars.map(async (car, i) => {
      for (let n = 0; publishing; n++) {
        const id = `car${i}-${n}`
        await car.publishAsync(`vehicles/${pki.vins[i]!}/telemetry/seq`, id, { qos: 1 })
        acked.push(id)
        ackTimes.push(Date.now())
        await sleep(40)
      }
    })
    await sleep(500)

    // the revocation, confirmed by the replica (WAIT), then the master dies at once
    const r = await runCli(['revoke', '--cert', join(revokedDir, 'cert.pem'), '--redis', redis.url, '--reason', 'keyCompromise'])
    expect(r.code, r.stderr).to.equal(0)
    await closed(revokedCar, 2000)
    const oldMaster = await redis.masterPort()
    await redis.kill(oldMaster)
    const killedAt = Date.now()
    const ackedBeforeKill = acked.length

    // during the stall: no master; new connects that need the store are refused, the revoked car too
    await sleep(300)
    expect(a.storeReachable() || b.storeReachable(), 'a node reports its store reachable with no master').to.equal(false)
    const during = await tryConnect(b.port, credentials(pki.dir, revokedDir), { clientId: vin })
    expect(during.ok, 'the revoked car admitted during the failover').to.equal(false)
    const fresh = await tryConnect(b.port, credentials(pki.dir, pki.vehicle(3)), { clientId: pki.vins[3]! })
    expect(fresh.ok, 'a new connect admitted with no master').to.equal(false)
    if (fresh.ok) fresh.client.end(true)

    // Sentinel names the new master; the nodes follow by themselves
    const newMaster = await redis.failedOverFrom(oldMaster)
    expect(newMaster).to.not.equal(oldMaster)
    const deadline = Date.now() + 20_000
    while (!(a.storeReachable() && b.storeReachable()) && Date.now() < deadline) await sleep(50)
    const reachableAt = Date.now()
    expect(a.storeReachable() && b.storeReachable(), 'both nodes on the new master').to.equal(true)
    const report = (line: string) => console.log(`      ${line}`)

    // traffic goes on a little on the new master, then everything PUBACKed must have arrived
    await sleep(800)
    publishing = false
    await Promise.all(loops)
    const until = Date.now() + 10_000
    while (acked.some((m) => !got.has(m)) && Date.now() < until) await sleep(100)
    expect(acked.filter((m) => !got.has(m)), 'PUBACKed but never delivered').to.deep.equal([])
    expect(acked.length).to.be.greaterThan(ackedBeforeKill)
    // the stall: the longest pause between two PUBACKs a car saw, and between two deliveries
    const longestGap = (times: number[]) => times.slice(1).reduce((max, t, i) => Math.max(max, t - times[i]!), 0)
    report(`failover: master ${oldMaster} -> ${newMaster}; both nodes on the new master ${reachableAt - killedAt} ms after the kill; ` +
      `longest pause between PUBACKs ${longestGap(ackTimes)} ms, between deliveries ${longestGap(gotTimes)} ms; ${acked.length} messages PUBACKed (${acked.length - ackedBeforeKill} after the kill), all delivered`)

    // live sessions kept, no node restarted
    expect(closes, 'a live session was closed').to.equal(0)
    for (const c of [backend, ...cars]) expect(c.connected).to.equal(true)

    // after: the revocation survived the failover; a new connect is admitted again
    const after = await tryConnect(b.port, credentials(pki.dir, revokedDir), { clientId: vin })
    expect(after.ok, 'the revoked car admitted after the failover').to.equal(false)
    await b.audit.waitFor('connect.deny', { reason: 'revoked' })
    const back = await connect(b.port, credentials(pki.dir, pki.vehicle(3)), { clientId: pki.vins[3]! })
    clients.push(back)

    // one outage line and one recovery line on the node that refused, not one per car
    expect(b.audit.find('store.outage')).to.have.length(1)
    await b.audit.waitFor('store.recovered')
    expect(b.audit.find('store.recovered')).to.have.length(1)
  })

  it('a revocation written while no replica is up says it is not replicated (exit 3); the write stands', async () => {
    // the old master is dead, so the new one has no replica
    const vin = randomVin()
    const dir = await pki.extra('failover-unreplicated', 'vehicle', vin)
    const r = await runCli(['revoke', '--cert', join(dir, 'cert.pem'), '--redis', redis.url, '--redis-replica-timeout', '300ms'])
    expect(r.code, r.stderr).to.equal(3)
    expect(r.stderr.trim().split('\n')).to.have.length(1)
    expect(r.stderr).to.match(/^FG_ERR_REDIS_NOT_REPLICATED: revocation: written to the master but confirmed by 0 of 1 replica/)
    // written all the same: the car is refused
    const o = await tryConnect(a.port, credentials(pki.dir, dir), { clientId: vin })
    expect(o.ok).to.equal(false)
    await a.audit.waitFor('connect.deny', { reason: 'revoked' })
    // the operator may say a master alone is enough
    const vin2 = randomVin()
    const dir2 = await pki.extra('failover-unreplicated-ok', 'vehicle', vin2)
    const r2 = await runCli(['revoke', '--cert', join(dir2, 'cert.pem'), '--redis', redis.url, '--redis-min-replicas', '0'])
    expect(r2.code, r2.stderr).to.equal(0)
  })

  it('with a replica back (the old master, made a replica by Sentinel) a revocation is replicated again; the replica stopped, it is not', async () => {
    const replica = redis.killedPort!
    await redis.restart(replica)
    await redis.replicasOnline(1)
    const vin = randomVin()
    const dir = await pki.extra('failover-replicated-again', 'vehicle', vin)
    const r = await runCli(['revoke', '--cert', join(dir, 'cert.pem'), '--redis', redis.url])
    expect(r.code, r.stderr).to.equal(0)
    // the replica stopped (SIGSTOP: still connected, acknowledging nothing)
    redis.pause(replica)
    try {
      const vin2 = randomVin()
      const dir2 = await pki.extra('replica-stopped', 'vehicle', vin2)
      const r2 = await runCli(['revoke', '--cert', join(dir2, 'cert.pem'), '--redis', redis.url, '--redis-replica-timeout', '500ms'])
      expect(r2.code, r2.stderr).to.equal(3)
      expect(r2.stderr).to.match(/^FG_ERR_REDIS_NOT_REPLICATED: revocation: written to the master but confirmed by 0 of 1 replica\(s\) within 500 ms: NOT replicated/)
      expect(r2.stdout).to.equal('')
    } finally {
      redis.resume(replica)
    }
  })
})
