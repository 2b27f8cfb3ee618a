// Revocation with Redis (ARCHITECTURE.md steps 3 and 9; README "Redis schema"): refusal
// at CONNECT, live disconnect within 1 s with the Will dropped, external writers
// using plain HSET + PUBLISH, the periodic re-check, a revoked intermediate CA.
import { expect } from 'chai'
import { join } from 'node:path'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { MqttClient } from 'mqtt'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { connect, credentials, tryConnect, collect, closed, end } from '../harness/mqtt.js'
import { randomVin } from '../../src/pki/index.js'
import { redisCli, openssl, fingerprintOf, elapsedSince } from './revocation-helpers.js'

const P = 'fleetgate:'

describe('revocation (Redis store)', function () {
  this.timeout(30_000)
  let redis: TestRedis
  let pki: TestPki
  let broker: TestBroker
  const clients: MqttClient[] = []

  async function vehicle (name: string): Promise<{ dir: string; vin: string }> {
    const vin = randomVin()
    return { dir: await pki.extra(name, 'vehicle', vin), vin }
  }
  async function online (v: { dir: string; vin: string }, opts = {}): Promise<MqttClient> {
    const c = await connect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin, ...opts })
    clients.push(c)
    return c
  }

  before(async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    broker = await startTestBroker(pki.dir, { redis: redis.url, revocationRecheck: '1s' })
  })
  afterEach(async () => { await end(...clients.splice(0)) })
  after(async () => { await broker?.close(); await redis?.stop() })

  it('refuses a revoked certificate at CONNECT: CONNACK 5, audit reason revoked', async () => {
    const v = await vehicle('rr-connect')
    await redisCli(redis.port, 'HSET', `${P}revoked:cert`, fingerprintOf(join(v.dir, 'cert.pem')), '{"reason":"keyCompromise","revokedAt":"2026-01-01T00:00:00Z"}')
    const o = await tryConnect(broker.port, credentials(pki.dir, v.dir), { clientId: v.vin })
    expect(o.ok).to.equal(false)
    if (!o.ok) expect(o.returnCode).to.equal(5)
    const line = await broker.audit.waitFor('connect.deny', { reason: 'revoked' })
    expect((line.cert as { fp: string }).fp).to.equal(fingerprintOf(join(v.dir, 'cert.pem')))
  })

  it('closes a live session within 1 s of `fleetgate revoke`-style HSET + PUBLISH, and drops its Will', async () => {
    const v = await vehicle('rr-live')
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-rr-live' })
    clients.push(backend)
    await backend.subscribeAsync(`vehicles/${v.vin}/status`, { qos: 1 })
    const car = await online(v, { will: { topic: `vehicles/${v.vin}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } })
    const gotWill = collect(backend, 2500)
    const t0 = process.hrtime.bigint()
    // an external CA: plain HSET then PUBLISH, exactly the README "Redis schema"
    const fp = fingerprintOf(join(v.dir, 'cert.pem'))
    await redisCli(redis.port, 'HSET', `${P}revoked:cert`, fp, '{"reason":"keyCompromise","revokedAt":"2026-01-01T00:00:00Z"}')
    await redisCli(redis.port, 'PUBLISH', `${P}revocations`, JSON.stringify({ fingerprint: fp }))
    await closed(car, 1000)
    expect(elapsedSince(t0)).to.be.below(1000)
    const kick = await broker.audit.waitFor('revocation.kick', { reason: 'revoked' })
    expect((kick.conn as { clientId: string }).clientId).to.equal(v.vin)
    expect((await gotWill).filter((m) => m.payload.toString() === 'offline')).to.deep.equal([])
    expect(backend.connected).to.equal(true)
  })

  it('control: the same Will IS delivered when a car just drops (so the test above can fail)', async () => {
    const v = await vehicle('rr-will-control')
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-rr-ctl' })
    clients.push(backend)
    await backend.subscribeAsync(`vehicles/${v.vin}/status`, { qos: 1 })
    const car = await online(v, { will: { topic: `vehicles/${v.vin}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } })
    const got = collect(backend, 3000, 1)
    ;(car as unknown as { stream: { destroy (): void } }).stream.destroy()
    expect((await got).map((m) => m.payload.toString())).to.deep.equal(['offline'])
  })

  it('honours issuer + serial written by an external CA with the serial openssl prints', async () => {
    // a leaf whose serial starts with a zero nibble: openssl prints it padded (0A...)
    let v: { dir: string; vin: string } | undefined
    let printed = ''
    for (let i = 0; i < 64 && !v; i++) {
      const c = await vehicle(`rr-serial-${i}`)
      printed = (await openssl('x509', '-noout', '-serial', '-in', join(c.dir, 'cert.pem'))).replace(/^serial=/, '')
      if (printed.startsWith('0')) v = c
    }
    expect(v, 'no certificate with a leading-zero serial in 64 tries').to.not.equal(undefined)
    const car = await online(v!)
    const issuerFp = fingerprintOf(join(pki.dir, 'issuing-ca.pem'))
    // the contract's form: lowercase, no leading zeros (what a careful writer stores)
    const field = printed.toLowerCase().replace(/^0+/, '')
    await redisCli(redis.port, 'HSET', `${P}revoked:serial:${issuerFp}`, field, '{"reason":"keyCompromise","revokedAt":"2026-01-01T00:00:00Z"}')
    await redisCli(redis.port, 'PUBLISH', `${P}revocations`, JSON.stringify({ issuer: issuerFp, serial: printed }))
    await closed(car, 1000)
    const o = await tryConnect(broker.port, credentials(pki.dir, v!.dir), { clientId: v!.vin })
    expect(o.ok).to.equal(false)
    await broker.audit.waitFor('connect.deny', { reason: 'revoked' })
  })

  it('also matches a serial stored verbatim as openssl printed it (upper case, zero-padded)', async () => {
    let v: { dir: string; vin: string } | undefined
    let printed = ''
    for (let i = 0; i < 64 && !v; i++) {
      const c = await vehicle(`rr-verbatim-${i}`)
      printed = (await openssl('x509', '-noout', '-serial', '-in', join(c.dir, 'cert.pem'))).replace(/^serial=/, '')
      if (printed.startsWith('0')) v = c
    }
    const issuerFp = fingerprintOf(join(pki.dir, 'issuing-ca.pem'))
    await redisCli(redis.port, 'HSET', `${P}revoked:serial:${issuerFp}`, printed, '{"reason":"superseded","revokedAt":"2026-01-01T00:00:00Z"}')
    const o = await tryConnect(broker.port, credentials(pki.dir, v!.dir), { clientId: v!.vin })
    expect(o.ok).to.equal(false)
    if (!o.ok) expect(o.returnCode).to.equal(5)
  })

  it('catches a write without a PUBLISH by the periodic re-check (--revocation-recheck 1s)', async () => {
    const v = await vehicle('rr-recheck')
    const car = await online(v)
    await redisCli(redis.port, 'HSET', `${P}revoked:cert`, fingerprintOf(join(v.dir, 'cert.pem')), '{"reason":"keyCompromise","revokedAt":"2026-01-01T00:00:00Z"}')
    await closed(car, 3000)
    const kick = await broker.audit.waitFor('revocation.kick', { via: 'recheck' })
    expect(kick.reason).to.equal('revoked')
  })

  it('marks an `issued` registry record active on first connect and announces first_connect', async () => {
    const v = await vehicle('rr-registry')
    const fp = fingerprintOf(join(v.dir, 'cert.pem'))
    await redisCli(redis.port, 'HSET', `${P}certs:${v.vin}`, fp, JSON.stringify({ serial: '1', notAfter: '2030-01-01T00:00:00Z', issuedAt: '2026-01-01T00:00:00Z', state: 'issued' }))
    const events = broker.fleetgate.revocations
    expect(events.kind).to.equal('redis')
    await online(v)
    await broker.audit.waitFor('registry.first_connect')
    const rec = JSON.parse(await redisCli(redis.port, 'HGET', `${P}certs:${v.vin}`, fp)) as { state: string }
    expect(rec.state).to.equal('active')
  })
})

describe('revocation of an intermediate CA (Redis store)', function () {
  this.timeout(30_000)
  let redis: TestRedis
  let pki: TestPki
  let broker: TestBroker
  const clients: MqttClient[] = []
  after(async () => { await end(...clients); await broker?.close(); await redis?.stop() })

  it('cuts off every live leaf under it at once and refuses new ones', async () => {
    ;[redis, pki] = await Promise.all([startRedis(), testPki()])
    broker = await startTestBroker(pki.dir, { redis: redis.url })
    const cars = await Promise.all([0, 1, 2].map((i) => connect(broker.port, credentials(pki.dir, pki.vehicle(i)), { clientId: pki.vins[i] })))
    const backend = await connect(broker.port, credentials(pki.dir, pki.backend), { clientId: 'fleet-backend-ca' })
    clients.push(...cars, backend)
    const root = fingerprintOf(join(pki.dir, 'root-ca.pem'))
    const issuingSerial = (await openssl('x509', '-noout', '-serial', '-in', join(pki.dir, 'issuing-ca.pem'))).replace(/^serial=/, '')
    // revoked by the root, as a CRL of the root would list it: issuer + serial
    await redisCli(redis.port, 'HSET', `${P}revoked:serial:${root}`, issuingSerial.toLowerCase().replace(/^0+/, ''), '{"reason":"cACompromise","revokedAt":"2026-01-01T00:00:00Z"}')
    await redisCli(redis.port, 'PUBLISH', `${P}revocations`, JSON.stringify({ issuer: root, serial: issuingSerial }))
    await Promise.all([...cars, backend].map((c) => closed(c, 1000)))
    expect(broker.audit.find('revocation.kick', { reason: 'revoked' })).to.have.length(4)
    const o = await tryConnect(broker.port, credentials(pki.dir, pki.vehicle(3)), { clientId: pki.vins[3] })
    expect(o.ok).to.equal(false)
    await broker.audit.waitFor('connect.deny', { reason: 'revoked' })
  })

  it('with the intermediate itself in --ca (a bundle of root and issuing CA): its revocation by the root, issuer + serial, is still found', async () => {
    await redisCli(redis.port, 'FLUSHALL')
    const bundle = join(mkdtempSync(join(tmpdir(), 'fg-bundle-')), 'ca.pem')
    writeFileSync(bundle, readFileSync(join(pki.dir, 'root-ca.pem'), 'utf8') + readFileSync(join(pki.dir, 'issuing-ca.pem'), 'utf8'))
    const b = await startTestBroker(pki.dir, { redis: redis.url, ca: bundle })
    try {
      const car = await connect(b.port, credentials(pki.dir, pki.vehicle(0)), { clientId: pki.vins[0] })
      clients.push(car)
      const root = fingerprintOf(join(pki.dir, 'root-ca.pem'))
      const issuingSerial = (await openssl('x509', '-noout', '-serial', '-in', join(pki.dir, 'issuing-ca.pem'))).replace(/^serial=/, '')
      await redisCli(redis.port, 'HSET', `${P}revoked:serial:${root}`, issuingSerial.toLowerCase().replace(/^0+/, ''), '{"reason":"cACompromise","revokedAt":"2026-01-01T00:00:00Z"}')
      await redisCli(redis.port, 'PUBLISH', `${P}revocations`, JSON.stringify({ issuer: root, serial: issuingSerial }))
      await closed(car, 2000)
      const o = await tryConnect(b.port, credentials(pki.dir, pki.vehicle(1)), { clientId: pki.vins[1] })
      expect(o.ok).to.equal(false)
      await b.audit.waitFor('connect.deny', { reason: 'revoked' })
    } finally { await b.close() }
  })
})
