// redisClient (src/stores/redis.ts): the commands a link is given in one
// callback (and the promise continuations it starts) leave in one write to its
// socket (one system call, Redis woken once), in order, each with its own
// reply; also on the links made with the ioredis a library bundles, and on the
// new socket of a reconnected link.
import { expect } from 'chai'
import type { Socket } from 'node:net'
import type { Redis } from 'ioredis'
import { redisClient, type RedisFlavour } from '../../../src/stores/index.js'
import { startRedis, type TestRedis } from '../../harness/redis.js'

/** count the writes that reach the socket's handle (Writable's _write / _writev: one system call each) */
function countWrites (r: Redis): { readonly n: number } {
  const stream = (r as unknown as { stream: Socket & { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void } }).stream
  const counter = { n: 0 }
  const write = stream._write
  const writev = stream._writev
  stream._write = function (this: Socket, ...a: unknown[]) { counter.n++; return write.apply(this, a) }
  if (writev) stream._writev = function (this: Socket, ...a: unknown[]) { counter.n++; return writev.apply(this, a) }
  return counter
}

async function oneTurn (r: Redis, n: number): Promise<{ replies: string[]; writes: number }> {
  const writes = countWrites(r)
  const replies = await Promise.all(Array.from({ length: n }, (_, i) => r.echo(`m${i}`)))
  return { replies, writes: writes.n }
}

describe('redisClient: the writes of one callback are coalesced', function () {
  this.timeout(20_000)
  let redis: TestRedis
  before(async () => { redis = await startRedis() })
  after(async () => { await redis?.stop() })

  for (const flavour of ['fleetgate', 'aedes-persistence-redis', 'mqemitter-redis'] as RedisFlavour[]) {
    it(`${flavour}: 50 commands of one callback, one write, answered in order`, async () => {
      const r = redisClient(redis.url, { lazyConnect: true }, flavour)
      try {
        await r.connect()
        const { replies, writes } = await oneTurn(r, 50)
        expect(replies).to.deep.equal(Array.from({ length: 50 }, (_, i) => `m${i}`))
        expect(writes).to.equal(1)
      } finally { r.disconnect() }
    })
  }

  it('a command given after the reply to the one before goes in a write of its own (none waits for a later one)', async () => {
    const r = redisClient(redis.url, { lazyConnect: true })
    try {
      await r.connect()
      const writes = countWrites(r)
      expect(await r.echo('a')).to.equal('a')
      expect(await r.echo('b')).to.equal('b')
      expect(writes.n).to.equal(2)
    } finally { r.disconnect() }
  })

  it('a reconnected link (a new socket) is coalesced too', async () => {
    const r = redisClient(redis.url, { lazyConnect: true })
    try {
      await r.connect()
      const first = (r as unknown as { stream: Socket }).stream
      const ready = new Promise<void>((resolve) => r.once('ready', () => resolve()))
      r.disconnect(true)
      await ready
      expect((r as unknown as { stream: Socket }).stream).to.not.equal(first)
      const { replies, writes } = await oneTurn(r, 20)
      expect(replies).to.have.length(20)
      expect(writes).to.equal(1)
    } finally { r.disconnect() }
  })
})
