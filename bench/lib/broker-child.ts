// A broker process for the benchmark, so its RSS is measured alone:
//   bare:        Aedes with no hooks on tls.createServer, the same TLS options and certificates
//   bare-resume: the same with TLS session tickets on (fleetgate's listener options with
//                resumption, sealed with Node's own single key): the bare broker a fleetgate
//                with --tls-resumption on (the default) is compared with
//   bare-redis:  bare Aedes on Redis, as the libraries come (aedes-persistence-redis and
//                mqemitter-redis on the third argument's `redis` URL): the floor of
//                fleetgate's cluster mode
//   bare-redis-resume: the same with TLS session tickets on, as bare-resume (the provisioning
//                storm's floor on Redis: fleetgate serve seals tickets by default)
//   tls-floor:   no MQTT broker at all: the same tls.Server options as bare-resume, answering
//                each connection's first bytes (its CONNECT) with a CONNACK written by hand:
//                the most any broker on Node's TLS stack can do (the reconnect storm's ceiling)
//   fleetgate:   fleetgate's startBroker (what `fleetgate serve` runs); a third argument,
//                JSON, adds startBroker options (redis, tlsResumption, dataDir, ...)
// Started with fork(); answers { cmd: 'rss' } with its RSS after a full GC.
import { randomBytes } from 'node:crypto'
import { createRequire } from 'node:module'
import { createServer, type TLSSocket } from 'node:tls'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import { loadTlsMaterial, tlsServerOptions, startBroker, guardReads, type ConfigInput } from '../../src/index.js'
import { devPkiPaths } from '../../src/testing.js'
import type { BrokerMode } from './broker-proc.js'

const [mode, pkiDir, extraJson] = process.argv.slice(2) as [BrokerMode, string, string | undefined]
const extra = (extraJson ? JSON.parse(extraJson) : {}) as ConfigInput
const pki = devPkiPaths(pkiDir, [])
const paths = { ca: pki.root.cert, cert: pki.broker.cert, key: pki.broker.key }
const gc = (globalThis as { gc?: () => void }).gc

/** Aedes' persistence and emitter on Redis, each library with its own defaults */
function onRedis (url: string | undefined): object {
  if (!url) throw new Error('bare-redis needs a redis URL')
  const require = createRequire(import.meta.url)
  const { hostname, port } = new URL(url)
  const where = { host: hostname, port: Number(port) }
  const persistence = (require('aedes-persistence-redis') as (o: object) => object)(where)
  const mq = (require('mqemitter-redis') as (o: object) => object)(where)
  return { persistence, mq }
}

type TlsResumption = NonNullable<Parameters<typeof tlsServerOptions>[1]['resumption']>

/** CONNACK, session not present, accepted */
const CONNACK = Buffer.from([0x20, 2, 0, 0])

/** TLS tickets sealed with Node's own single key, as a bare server with tickets on does */
function nodeTicketKey (): TlsResumption {
  return { lifetimeSeconds: 3600, sessionIdContext: randomBytes(16).toString('hex'), ticketKeys: randomBytes(48) }
}

/** a tls.Server with fleetgate's listener options on a loopback port; returns the port */
async function listenTls (resumption: TlsResumption | undefined, onSocket: (socket: TLSSocket) => void): Promise<number> {
  const server = createServer(tlsServerOptions(loadTlsMaterial(paths), { handshakeTimeoutMs: 5000, resumption }), onSocket)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

async function start (): Promise<number> {
  if (mode === 'tls-floor') {
    return await listenTls(nodeTicketKey(), (socket) => {
      socket.once('data', () => socket.write(CONNACK))
      socket.on('data', () => {})
      socket.on('error', () => {})
    })
  }
  if (mode === 'bare' || mode === 'bare-guard' || mode === 'bare-resume' || mode === 'bare-redis' || mode === 'bare-redis-resume') {
    const onRedisStore = mode === 'bare-redis' || mode === 'bare-redis-resume'
    const broker = await Aedes.createBroker(onRedisStore ? onRedis(typeof extra.redis === 'string' ? extra.redis : undefined) : {})
    const resumption = mode === 'bare-resume' || mode === 'bare-redis-resume' ? nodeTicketKey() : undefined
    // bare-guard (diagnostics): bare Aedes behind fleetgate's byte-stream guard alone
    return await listenTls(resumption, mode !== 'bare-guard' ? (socket) => broker.handle(socket)
      : (socket) => { guardReads(socket, 128 * 1024, () => {}); broker.handle(socket) })
  }
  const running = await startBroker({
    port: 0, host: '127.0.0.1', ...paths,
    maxConnectionsPerIp: 1_000_000,
    maxPublishRate: 0, // the throughput runs publish far over a car's rate on purpose
    logLevel: 'info', // audit lines are part of the cost; stdout goes to /dev/null
    ...extra,
    dataDir: extra.dataDir ?? mkdtempSync(join(tmpdir(), 'fg-bench-data-')),
  })
  return running.port
}

// A normal exit on SIGTERM (so --cpu-prof and the like can write their files).
process.on('SIGTERM', () => process.exit(0))

start().then((port) => {
  process.send!({ ready: true, port })
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'snapshot') {
      void import('node:v8').then((v8) => process.send!({ file: v8.writeHeapSnapshot() }))
    }
    if (m.cmd === 'rss') {
      for (let i = 0; i < 3; i++) gc?.()
      setTimeout(() => { const m = process.memoryUsage(); process.send!({ rss: m.rss, heap: m.heapUsed, heapTotal: m.heapTotal, external: m.external }) }, 200)
    }
  })
}, (err: unknown) => {
  process.stderr.write(`bench broker (${mode}) failed: ${String(err)}\n`)
  process.exit(1)
})
