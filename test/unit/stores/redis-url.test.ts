// The --redis value: plain URLs and redis+sentinel:// (src/contract/redis-url.ts),
// the replica rule's default, and the one place ioredis clients are made
// (the lint rule in eslint.config.js refuses one made elsewhere in src/).
import { expect } from 'chai'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { ESLint } from 'eslint'
import { parseRedisTarget, redactRedisUrl } from '../../../src/contract/redis-url.js'
import { minReplicasOf, redactUrl } from '../../../src/stores/index.js'
import { resolveConfig } from '../../../src/config/index.js'

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', '..')

describe('--redis: plain URLs and redis+sentinel://', () => {
  it('reads Sentinels, master name, db, passwords', () => {
    expect(parseRedisTarget('redis://127.0.0.1:6379')).to.deep.equal({ kind: 'server', url: 'redis://127.0.0.1:6379' })
    expect(parseRedisTarget('redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380,[::1]:26381/fleet/2?sentinelPassword=x')).to.deep.equal({
      kind: 'sentinel',
      sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26380 }, { host: '::1', port: 26381 }],
      name: 'fleet', password: 's3cret', db: 2, sentinelPassword: 'x',
    })
    expect(parseRedisTarget('redis+sentinel://user:pw@h:1/m')).to.include({ username: 'user', password: 'pw', name: 'm' })
  })

  it('refuses a bad value with one line naming the problem, through the config', () => {
    const bad = (v: string) => { try { resolveConfig({ dev: true, redis: v }); return '' } catch (err) { return (err as Error).message } }
    expect(bad('redis+sentinel://h:26379')).to.match(/^--redis: redis\+sentinel:\/\/ needs the master's name/)
    expect(bad('redis+sentinel://h/m')).to.match(/^--redis: each Sentinel is host:port, got "h"/)
    expect(bad('redis+sentinel://h:1/m?db=2')).to.match(/unknown redis\+sentinel:\/\/ parameter "db"/)
    expect(bad('http://h:1')).to.match(/expected a redis:\/\/, rediss:\/\/ or redis\+sentinel:\/\/ URL/)
    expect(resolveConfig({ dev: true, redis: 'redis+sentinel://h:1,h:2/m' }).redis).to.equal('redis+sentinel://h:1,h:2/m')
  })

  it('never prints a password', () => {
    expect(redactRedisUrl('redis+sentinel://:s3cret@h:1/m?sentinelPassword=abc')).to.equal('redis+sentinel://:***@h:1/m?sentinelPassword=***')
    expect(redactUrl('redis+sentinel://u:s3cret@h:1/m')).to.equal('redis+sentinel://u:***@h:1/m')
    expect(redactUrl('redis://:s3cret@h:1')).to.not.include('s3cret')
  })

  it('waits for one replica by default with Sentinel, none with a plain URL, as told otherwise', () => {
    expect(minReplicasOf({ redis: 'redis+sentinel://h:1/m' })).to.equal(1)
    expect(minReplicasOf({ redis: 'redis://h:1' })).to.equal(0)
    expect(minReplicasOf({ redis: 'redis+sentinel://h:1/m', redisMinReplicas: 0 })).to.equal(0)
    expect(minReplicasOf({ redis: 'redis://h:1', redisMinReplicas: 2 })).to.equal(2)
    expect(minReplicasOf({})).to.equal(0)
  })
})

describe('one place makes ioredis clients (src/stores/redis.ts)', () => {
  const eslint = new ESLint({ cwd: ROOT })
  const lint = async (file: string, code: string) => (await eslint.lintText(code, { filePath: join(ROOT, file) }))[0]!.messages.map((m) => m.message)

  it('the lint rule refuses a client made anywhere else in src/', async () => {
    expect(await lint('src/cluster/probe.ts', "import { Redis } from 'ioredis'\nexport const r = new Redis('redis://h')\n")).to.have.length(2)
    expect(await lint('src/sessions/probe.ts', "import { createRequire } from 'node:module'\nexport const R = createRequire(import.meta.url)('ioredis')\n")).to.have.length(1)
    // types are fine; so is the factory itself
    expect(await lint('src/cluster/probe.ts', "import type { Redis } from 'ioredis'\nexport type R = Redis\n")).to.deep.equal([])
    expect(await lint('src/stores/redis.ts', "import { Redis } from 'ioredis'\nexport const r = new Redis('redis://h')\n")).to.deep.equal([])
  })
})
