// Revocation: propagation time (revocation written -> live session closed) and
// the connect-rate cost of the per-connect Redis lookup. Both brokers run in
// this process, one after the other in alternating rounds, with the same
// certificates and the same throwaway redis-server.
//   lookup:   --revocation-cache 0: every CONNECT makes the pipelined Redis round trip
//   baseline: the same broker with a warm clean cache: the lookup is skipped, so the
//             difference between the two is the lookup's cost
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Aedes } from 'aedes'
import type { BenchSection } from './types.js'
import { benchCerts } from './lib/certs.js'
import { contextOf, mqttConnect } from './lib/mqtt-raw.js'
import { connectRate, type Client } from './lib/workloads.js'
import { percentile, round } from './lib/stats.js'
import { createFleetgate, composeHooks, createAuditLogger, openRevocationStore, parsePemCertificates, sha256Hex } from '../src/index.js'
import { devPkiPaths } from '../src/testing.js'
import { startRedis } from '../test/harness/redis.js'

const log = (line: string) => process.stderr.write(line + '\n')

async function broker (pkiDir: string, redis: string, cacheMs: number) {
  const pki = devPkiPaths(pkiDir, [])
  const fg = await createFleetgate({
    port: 0, ca: pki.root.cert, ...pki.broker,
    redis, revocationCache: cacheMs, maxConnectionsPerIp: 1_000_000, revocationRecheck: '1h',
  }, { logger: createAuditLogger({ level: 'silent' }) })
  const aedes = await Aedes.createBroker({ ...composeHooks(fg.hooks) })
  fg.attach(aedes)
  const server = createTlsServer(fg.tlsOptions(), fg.connectionHandler(aedes))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    async close () {
      await new Promise<void>((resolve) => { server.close(() => resolve()); for (const c of Object.values((aedes as unknown as { clients: Record<string, { conn: { destroy (): void } }> }).clients)) c.conn.destroy() })
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await fg.close()
    },
  }
}

export async function run (opts: { quick: boolean }): Promise<BenchSection> {
  const q = opts.quick
  const P = { connects: q ? 200 : 600, concurrency: 8, rounds: q ? 2 : 3, revocations: q ? 50 : 200 }
  const certs = await benchCerts(Math.max(P.connects, P.revocations), log)
  const clients: Client[] = certs.vehicles.slice(0, Math.max(P.connects, P.revocations)).map((v) => ({ ctx: contextOf({ ca: certs.ca, cert: v.cert, key: v.key }), clientId: v.vin }))
  const redis = await startRedis()
  const lookup = await broker(certs.dir, redis.url, 0)
  const cached = await broker(certs.dir, redis.url, 3_600_000)
  const writer = await openRevocationStore({ redis: redis.url, dataDir: '', revocationTimeout: 5000 })
  try {
    const set = clients.slice(0, P.connects)
    await connectRate(cached.port, set, P.concurrency) // warms the clean cache of the baseline
    const best = { lookup: 0, cached: 0 }
    for (let r = 0; r < P.rounds; r++) {
      const order = r % 2 === 0 ? (['lookup', 'cached'] as const) : (['cached', 'lookup'] as const)
      for (const side of order) {
        const rate = await connectRate(side === 'lookup' ? lookup.port : cached.port, set, P.concurrency)
        best[side] = Math.max(best[side], rate)
      }
    }
    log(`bench revocation: connects/s lookup ${best.lookup.toFixed(0)}, cached ${best.cached.toFixed(0)}`)

    // Propagation: N live sessions, revoked one at a time the way `fleetgate revoke` does (HSET, then PUBLISH).
    // opened one by one so live[i] is vehicles[i]
    const live: TLSSocket[] = []
    for (const c of clients.slice(0, P.revocations)) live.push(await mqttConnect(lookup.port, c.ctx, c.clientId, 3600))
    const latencies: number[] = []
    let missed = 0
    for (const [i, sock] of live.entries()) {
      const [leaf] = parsePemCertificates(certs.vehicles[i]!.cert.toString('utf8'), `bench vehicle ${certs.vehicles[i]!.vin}`)
      const fingerprint = sha256Hex(leaf!)
      const gone = new Promise<number>((resolve) => {
        const t = setTimeout(() => resolve(-1), 3000)
        sock.once('close', () => { clearTimeout(t); resolve(performance.now()) })
      })
      const t0 = performance.now()
      await writer.revoke([{ fingerprint }], { reason: 'keyCompromise', revokedAt: new Date().toISOString() })
      const t1 = await gone
      if (t1 < 0) missed++
      else latencies.push(t1 - t0)
    }
    latencies.sort((a, b) => a - b)
    const p50 = round(percentile(latencies, 50), 2)
    const p99 = round(percentile(latencies, 99), 2)
    log(`bench revocation: propagation p50 ${p50} ms, p99 ${p99} ms, ${missed} missed of ${live.length}`)
    return {
      title: 'revocation',
      rows: [
        { metric: 'connects/s with a Redis lookup per CONNECT (vs lookup skipped)', fleetgate: round(best.lookup, 0), baseline: round(best.cached, 0), unit: 'conn/s', target: '>= 0.8x' },
        { metric: `revocation -> live session closed, p50 (N=${live.length})`, fleetgate: p50, baseline: 1000, unit: 'ms', target: '<= 1x' },
        { metric: `revocation -> live session closed, p99 (N=${live.length})`, fleetgate: p99, baseline: 1000, unit: 'ms', target: '<= 1x' },
      ],
      notes: [
        `propagation: HSET + PUBLISH (as \`fleetgate revoke\`) to the socket's close seen by the client; ${missed} of ${live.length} not closed within 3 s; baseline column = the 1 s requirement`,
        'connect rate: full mTLS handshake + CONNECT/CONNACK, brokers and clients in one process, best of alternating rounds; baseline = the same broker with the lookup skipped (warm clean cache)',
      ],
    }
  } finally {
    await writer.close()
    await lookup.close()
    await cached.close()
    await redis.stop()
  }
}

// `node dist/bench/revocation.js [--quick]`
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  run({ quick: process.argv.includes('--quick') }).then((s) => { console.log(JSON.stringify(s, null, 2)); process.exit(0) }, (err) => { console.error(err); process.exit(1) })
}
