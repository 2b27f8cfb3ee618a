// Wills in Redis (cluster mode): Aedes 1.2's CONNECT handler clears an earlier
// Will with a delWill whose key names no broker (`will:undefined:<clientId>`),
// a Redis round trip per connect that deletes nothing (src/cluster/wills.ts).
import { expect } from 'chai'
import { Redis } from 'ioredis'
import { testPki, type TestPki } from '../harness/pki.js'
import { startTestBroker, type TestBroker } from '../harness/broker.js'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { connect, credentials, end } from '../harness/mqtt.js'

describe('cluster Wills: keyed to the node that stored them', function () {
  this.timeout(30_000)
  let pki: TestPki
  let redis: TestRedis
  let broker: TestBroker
  let db: Redis
  before(async () => {
    [pki, redis] = await Promise.all([testPki(), startRedis()])
    broker = await startTestBroker(pki.dir, { redis: redis.url })
    db = new Redis(redis.url)
  })
  after(async () => { await broker?.close(); db?.disconnect(); await redis?.stop() })

  /** every command redis-server ran while `during` ran, as argument lists */
  async function monitored (during: () => Promise<void>): Promise<string[][]> {
    const monitor = await db.monitor()
    const seen: string[][] = []
    monitor.on('monitor', (_time: string, args: string[]) => seen.push(args))
    try { await during() } finally { monitor.disconnect() }
    return seen
  }
  const willKeysOf = async (clientId: string): Promise<string[]> =>
    (await db.lrange('will', 0, -1)).filter((k) => k.endsWith(':' + encodeURIComponent(clientId)) || k.endsWith(':' + clientId))

  it('a connect without a Will on this node costs no Will command (and never looks up will:undefined)', async () => {
    const vin = pki.vins[0]!
    const seen = await monitored(async () => {
      const car = await connect(broker.port, credentials(pki.dir, pki.vehicle(0)), { clientId: vin })
      await end(car)
    })
    const willCommands = seen.filter((args) => args.some((a) => a === 'will' || a.startsWith('will:')))
    expect(willCommands.map((a) => a.join(' '))).to.deep.equal([])
  })

  it('a Will stored by this node is replaced on takeover and gone after a clean disconnect', async () => {
    const vin = pki.vins[1]!
    const creds = credentials(pki.dir, pki.vehicle(1))
    const will = (payload: string) => ({ topic: `vehicles/${vin}/status`, payload: Buffer.from(payload), qos: 1 as const, retain: false })
    const first = await connect(broker.port, creds, { clientId: vin, clean: false, will: will('first'), reconnectPeriod: 0 })
    const [key] = await willKeysOf(vin)
    expect(key, 'the Will is stored under this node').to.match(/^will:[^:]+:/)
    expect(key).not.to.contain('undefined')
    const second = await connect(broker.port, creds, { clientId: vin, clean: false, will: will('second'), reconnectPeriod: 0 })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const stored = await db.getBuffer(key!)
    expect(stored?.includes(Buffer.from('second')), 'the second connection\'s Will is stored').to.equal(true)
    expect(await willKeysOf(vin)).to.deep.equal([key])
    await end(second, first)
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(await willKeysOf(vin)).to.deep.equal([])
    expect(await db.exists(key!)).to.equal(0)
  })
})
