// The Aedes adapter against a real Aedes: every private field and method that
// src/aedes/adapter.ts relies on exists, with the type it expects, in the
// installed Aedes. An Aedes upgrade that changes that shape fails here, not in
// production. No socket: the client's stream is an in-process Duplex.
import { expect } from 'chai'
import { Duplex } from 'node:stream'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import mqttPacket from 'mqtt-packet'
import { Aedes, type Client } from 'aedes'
import {
  type SessionClient, AEDES_CHECKED_VERSION, AEDES_PERSISTENCE_REDIS_CHECKED_VERSION, onClientMade, persistenceSubscriptions, subscriptionMethods, aedesVersion, aedesWaitForDrain, brokerIdOf, brokerMq, brokerPersistence, clientInternals,
  clientOfStream, clientsOf, connackSent, hasLiveWill, persistenceWills, setClientLimits, setDrainTimeout, type MqPacket,
} from '../../../src/aedes/adapter.js'

/** A client's end of a connection: what Aedes writes is parsed into `received`. */
class Pipe extends Duplex {
  readonly received: mqttPacket.Packet[] = []
  reads = 0
  readonly #parser = mqttPacket.parser({ protocolVersion: 4 })
  constructor () {
    super()
    this.#parser.on('packet', (p: mqttPacket.Packet) => this.received.push(p))
  }

  override _read (): void {}
  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void { this.#parser.parse(chunk); cb() }
  override read (size?: number): unknown { this.reads++; return super.read(size) }
  send (packet: object): void { this.push(mqttPacket.generate(packet as mqttPacket.Packet)) }
}

async function until (what: string, test: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (test()) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** the object as Aedes built it, private fields included */
const raw = (o: object) => o as Record<string, unknown>

describe('Aedes adapter: the private shape it relies on (real Aedes)', () => {
  let broker: Aedes
  let pipe: Pipe
  let client: Client
  const newClients: MqPacket[] = []

  before(async () => {
    broker = await Aedes.createBroker()
    brokerMq(broker)!.on('$SYS/+/new/clients', (packet, done) => { newClients.push(packet); done() })
    pipe = new Pipe()
    client = broker.handle(pipe)
  })
  after(async () => {
    pipe.destroy()
    await new Promise<void>((resolve) => broker.close(() => resolve()))
  })

  it(`is the Aedes version the adapter names (${AEDES_CHECKED_VERSION})`, () => {
    const pkg = JSON.parse(readFileSync(join(dirname(createRequire(import.meta.url).resolve('aedes')), 'package.json'), 'utf8')) as { version: string }
    expect(pkg.version).to.equal(AEDES_CHECKED_VERSION)
    expect(aedesVersion(broker)).to.equal(AEDES_CHECKED_VERSION)
  })

  it('a new client: per-client deliver0/deliverQoS (packet, cb), a prototype waitForDrain, its broker, its stream pointing back at it', () => {
    for (const name of ['deliver0', 'deliverQoS']) {
      expect(Object.prototype.hasOwnProperty.call(client, name), name).to.equal(true)
      expect(raw(client)[name], name).to.be.a('function').with.property('length', 2)
    }
    const internals = clientInternals(client)
    expect(internals, 'clientInternals').to.not.equal(null)
    expect(aedesWaitForDrain(internals!), 'prototype waitForDrain').to.be.a('function')
    expect(Object.prototype.hasOwnProperty.call(client, 'waitForDrain'), 'waitForDrain is not an own property yet').to.equal(false)
    expect(raw(client).broker).to.equal(broker)
    expect(brokerIdOf(client)).to.be.a('string').and.equal(broker.id)
    expect(clientOfStream(pipe)).to.equal(client)
    expect(raw(client).connackSent).to.equal(false)
    expect(connackSent(client)).to.equal(false)
    expect(client.clean).to.be.a('boolean')
    expect(client.closed).to.equal(false)
  })

  it('the broker: clients map, emitter (on, emit, concurrency), persistence.addSubscriptions, opts.drainTimeout, per-client limits', () => {
    expect(raw(broker).clients).to.be.an('object')
    expect(clientsOf(broker)).to.equal(raw(broker).clients)
    const mq = brokerMq(broker)!
    expect(mq).to.equal(raw(broker).mq)
    expect(mq.on).to.be.a('function')
    expect(mq.emit).to.be.a('function')
    expect(mq.concurrency).to.be.a('number')
    const persistence = brokerPersistence(broker)
    expect(persistence).to.equal(raw(broker).persistence)
    expect(persistence.addSubscriptions).to.be.a('function')
    expect(persistence).to.have.property('incomingStorePacket').that.is.a('function') // src/sessions/unreleased-qos2.ts wraps it
    const opts = raw(broker).opts as Record<string, unknown>
    expect(opts.drainTimeout).to.be.a('number')
    setDrainTimeout(broker, 1234)
    expect(opts.drainTimeout).to.equal(1234)
    // fields Aedes already has and reads per client / per packet: replaced, not added
    for (const name of ['connectTimeout', 'maxTopicLevels', 'maxInflightInbound']) expect(raw(broker)[name], name).to.be.a('number')
    setClientLimits(broker, { connectTimeout: 11_000, maxTopicLevels: 12, maxInflightInbound: 13 })
    expect(raw(broker)).to.include({ connectTimeout: 11_000, maxTopicLevels: 12, maxInflightInbound: 13 })
  })

  it('at CONNECT: the stream is read with read() (the read guard wraps it), connackSent turns true, clients[id] and $SYS/<id>/new/clients', async () => {
    const readsBefore = pipe.reads
    pipe.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'adapter-shape', keepalive: 30 })
    await until('CONNACK', () => pipe.received.some((p) => p.cmd === 'connack'))
    await until('connackSent', () => connackSent(client))
    expect(pipe.reads).to.be.greaterThan(readsBefore)
    expect(raw(client).connackSent).to.equal(true)
    expect(clientsOf(broker)['adapter-shape']).to.equal(client)
    await until('$SYS new/clients', () => newClients.length > 0)
    expect(newClients[0]!.topic).to.equal(`$SYS/${broker.id}/new/clients`)
    expect(newClients[0]!.payload.toString()).to.equal('adapter-shape')
  })
})

describe('Aedes adapter: broker.handle and the persistence (real Aedes, real aedes-persistence-redis)', () => {
  const require = createRequire(import.meta.url)

  it('onClientMade sees the Client broker.handle made, before it reads a byte, and handle still returns it', async () => {
    const broker = await Aedes.createBroker()
    const made: SessionClient[] = []
    onClientMade(broker, (c) => { made.push(c); expect(connackSent(c), 'before CONNECT').to.equal(false) })
    const pipe = new Pipe()
    const returned = broker.handle(pipe)
    expect(made).to.have.length(1)
    expect(made[0]).to.equal(returned)
    expect(clientOfStream(pipe)).to.equal(returned)
    expect(made[0]!.deliverQoS).to.be.a('function')
    pipe.destroy()
    await new Promise<void>((resolve) => broker.close(() => resolve()))
  })

  it(`is the aedes-persistence-redis version the adapter names (${AEDES_PERSISTENCE_REDIS_CHECKED_VERSION})`, () => {
    const pkg = JSON.parse(readFileSync(join(dirname(require.resolve('aedes-persistence-redis')), 'package.json'), 'utf8')) as { version: string }
    expect(pkg.version).to.equal(AEDES_PERSISTENCE_REDIS_CHECKED_VERSION)
  })

  it('aedes-persistence-redis hands each call to an inner async instance with the subscription methods a wrapper must sit on', async () => {
    const { Redis } = await import('ioredis')
    const conn = new Redis({ lazyConnect: true }) // never connects: only the object shape is read
    const makePersistence = require('aedes-persistence-redis') as (opts: object) => object
    const persistence = makePersistence({ conn })
    const inner = subscriptionMethods(persistence)
    expect(inner, 'the inner async persistence').to.not.equal(persistence)
    expect(inner).to.equal(raw(persistence).asyncPersistence)
    for (const name of ['subscriptionsByClient', 'removeSubscriptions', 'addSubscriptions'] as const) expect(inner[name], name).to.be.a('function')
    expect(persistenceSubscriptions(persistence).addSubscriptions).to.be.a('function')
    conn.disconnect()
  })

  it('aedes-persistence-redis: setup is an AsyncFunction and putWill/delWill take a promise-style (client[, packet]) call (src/cluster/wills.ts wraps them)', async () => {
    const { Redis } = await import('ioredis')
    const conn = new Redis({ lazyConnect: true })
    const makePersistence = require('aedes-persistence-redis') as (opts: object) => object
    const wills = persistenceWills(makePersistence({ conn }))
    expect(wills.setup.constructor.name).to.equal('AsyncFunction')
    expect(wills.putWill).to.be.a('function').with.lengthOf.at.most(3)
    expect(wills.delWill).to.be.a('function').with.lengthOf.at.most(2)
    conn.disconnect()
  })

  it('hasLiveWill: true for an open client holding a Will, false once it is closed or has none', () => {
    const broker = { clients: { a: { closed: false, will: { topic: 't' } }, b: { closed: true, will: { topic: 't' } }, c: { closed: false, will: null } } }
    expect(hasLiveWill(broker, 'a')).to.equal(true)
    expect(hasLiveWill(broker, 'b')).to.equal(false)
    expect(hasLiveWill(broker, 'c')).to.equal(false)
    expect(hasLiveWill(broker, 'd')).to.equal(false)
  })
})
