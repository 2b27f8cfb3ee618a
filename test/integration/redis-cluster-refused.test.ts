// A Redis Cluster is refused at start with one line (exit 2): mqemitter-redis'
// PUBLISH is routed by channel slot there and live QoS 1 messages were lost
// (README "Cluster": what a fleet larger than one primary would need).
import { expect } from 'chai'
import { join } from 'node:path'
import { startRedis, type TestRedis } from '../harness/redis.js'
import { testPki, type TestPki } from '../harness/pki.js'
import { runCli } from '../harness/cli.js'
import { freePort } from '../harness/ports.js'

describe('--redis at a Redis Cluster', function () {
  this.timeout(30_000)
  let redis: TestRedis
  let pki: TestPki

  before(async () => {
    // the cluster bus on a port of its own (by default the port + 10000, which may be taken or past 65535)
    const bus = await freePort()
    ;[redis, pki] = await Promise.all([startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(bus)]), testPki()])
  })
  after(async () => { await redis?.stop() })

  const oneLine = (r: { code: number | null; stderr: string }) => {
    expect(r.code, r.stderr).to.equal(2)
    const lines = r.stderr.trim().split('\n')
    expect(lines).to.have.length(1)
    expect(lines[0]).to.match(/^FG_ERR_REDIS_CLUSTER: --redis redis:\/\/127\.0\.0\.1:\d+ is a Redis Cluster node \(cluster_enabled:1\): not supported/)
  }

  it('serve exits 2 with one line, before listening', async () => {
    oneLine(await runCli(['serve', '--port', '0', '--ca', join(pki.dir, 'root-ca.pem'), '--cert', join(pki.dir, 'broker', 'cert.pem'), '--key', join(pki.dir, 'broker', 'key.pem'), '--redis', redis.url]))
  })

  it('so does every command that writes the store', async () => {
    oneLine(await runCli(['revocations', 'list', '--redis', redis.url]))
    oneLine(await runCli(['revoke', '--fingerprint', 'a'.repeat(64), '--redis', redis.url]))
  })
})
