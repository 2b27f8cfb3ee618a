// Signed commands: our verifyCommand (jose ES256 + x5c chain, chain cache warm)
// against the raw node:crypto ES256 verify of the same signing inputs, on one
// core; and the signed round trip backend -> broker -> car -> signed result
// against an unsigned echo through the same broker, all in this process.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { verify as cryptoVerify, X509Certificate } from 'node:crypto'
import type { BenchSection } from './types.js'
import { percentile, round } from './lib/stats.js'
import { startBroker, createAuditLogger, signCommand, verifyCommand, ReplayCache, SignerVerifier, commandTrust } from '../src/index.js'
import { devPkiPaths, initDevPki, type DevPkiPaths } from '../src/testing.js'
import { credentialsFromFiles, startCar, connectBackend } from '../simulator/index.js'

const log = (line: string) => process.stderr.write(line + '\n')

async function verifyRates (pki: DevPkiPaths, n: number): Promise<{ ours: number; raw: number; cold: number }> {
  const creds = credentialsFromFiles({ ca: pki.root.cert, ...pki.backend })
  const vin = '1FTFW1E50PFA00001'
  const jwss: string[] = []
  for (let i = 0; i < n; i++) jwss.push((await signCommand({ vin, cmd: 'unlock', ttlMs: 60_000 }, creds.signing)).jws)
  const trust = commandTrust([new X509Certificate(creds.caPem).raw], [creds.signing.chain[1]!])
  // cold: a new verifier per command (chain parse + key import every time)
  const coldN = Math.min(200, n)
  let t = performance.now()
  for (let i = 0; i < coldN; i++) await verifyCommand(jwss[i]!, { chains: new SignerVerifier(trust), vin, now: Date.now(), replay: new ReplayCache() })
  const cold = coldN / ((performance.now() - t) / 1000)
  // ours, warm: one car (one chain cache, one replay set), every jti new
  const chains = new SignerVerifier(trust)
  const replay = new ReplayCache()
  await verifyCommand(jwss[0]!, { chains, vin, now: Date.now() })
  t = performance.now()
  for (const jws of jwss) {
    const d = await verifyCommand(jws, { chains, vin, now: Date.now(), replay })
    if (!d.ok) throw new Error(`bench command refused: ${d.reason}`)
  }
  const ours = n / ((performance.now() - t) / 1000)
  // raw node:crypto: the ES256 verify of the same signing input with the same key
  const inputs = jwss.map((j) => { const i = j.lastIndexOf('.'); return { data: Buffer.from(j.slice(0, i)), sig: Buffer.from(j.slice(i + 1), 'base64url') } })
  const key = creds.signing.key
  const pub = new X509Certificate(creds.signing.chain[0]!).publicKey
  void key
  t = performance.now()
  for (const { data, sig } of inputs) if (!cryptoVerify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)) throw new Error('raw verify failed')
  const raw = n / ((performance.now() - t) / 1000)
  return { ours, raw, cold }
}

export async function run (opts: { quick: boolean }): Promise<BenchSection> {
  const N = opts.quick ? 100 : 300
  const V = opts.quick ? 2000 : 10_000
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-cmd-'))
  try {
    const manifest = await initDevPki(dir, { vehicles: 2 })
    const pki = devPkiPaths(dir, manifest.vins)
    log(`commands: verify rate over ${V} commands`)
    const rates = await verifyRates(pki, V)

    const brokerAt = async (enforceSignedCommands: boolean) => {
      const b = await startBroker({
        port: 0, host: '127.0.0.1', ca: pki.root.cert, ...pki.broker, enforceSignedCommands,
      }, { logger: createAuditLogger({ level: 'silent' }) })
      // FG_BENCH_NODELAY=1: what the round trip becomes once the broker turns Nagle off on accepted sockets
      if (process.env.FG_BENCH_NODELAY === '1') b.server.on('secureConnection', (s) => s.setNoDelay(true))
      return b
    }
    const broker = await brokerAt(true)
    // the baseline's broker: the same, but without the edge check, which refuses an unsigned command
    const plainBroker = await brokerAt(false)
    const url = `mqtts://localhost:${broker.port}`
    const plainUrl = `mqtts://localhost:${plainBroker.port}`
    const vin = manifest.vins[0]!
    const echoVin = manifest.vins[1]!
    const files = (pair: { cert: string; key: string }) => ({ ca: pki.root.cert, cert: pair.cert, key: pair.key })
    const car = await startCar({ url, credentials: async () => credentialsFromFiles(files(pki.vehicles[0]!)), telemetryIntervalMs: 0 })
    // the baseline "car": an unsigned echo (vehicle certificate, its own topics)
    const echo = await startCar({ url: plainUrl, credentials: async () => credentialsFromFiles(files(pki.vehicles[1]!)), telemetryIntervalMs: 0 })
    await Promise.all([car.online, echo.online])
    echo.client.removeAllListeners('message')
    echo.client.on('message', (_t, payload) => { echo.client.publish(`vehicles/${echoVin}/command-results`, payload, { qos: 1 }) })
    const backend = await connectBackend(url, credentialsFromFiles(files(pki.backend)))
    const plainBackend = await connectBackend(plainUrl, credentialsFromFiles(files(pki.backend)))
    try {
      log(`commands: ${N} signed round trips and ${N} unsigned echoes`)
      const signed: number[] = []
      for (let i = 0; i < N + 20; i++) {
        const out = await backend.send({ vin, cmd: i % 2 === 0 ? 'lock' : 'unlock' }, { timeoutMs: 5000 })
        if (out.kind !== 'result' || out.result.status !== 'executed') throw new Error(`bench round trip failed: ${out.kind}`)
        if (i >= 20) signed.push(out.rttMs)
      }
      const plainClient = plainBackend.client
      await plainClient.subscribeAsync(`vehicles/${echoVin}/command-results`, { qos: 1 })
      const plain: number[] = []
      for (let i = 0; i < N + 20; i++) {
        const tag = `echo-${i}`
        const t0 = performance.now()
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('echo timeout')), 5000)
          const on = (_t: string, p: Buffer) => { if (p.toString() === tag) { clearTimeout(timer); plainClient.off('message', on); resolve() } }
          plainClient.on('message', on)
          plainClient.publish(`vehicles/${echoVin}/commands`, tag, { qos: 1 })
        })
        if (i >= 20) plain.push(performance.now() - t0)
      }
      signed.sort((a, b) => a - b)
      plain.sort((a, b) => a - b)
      return {
        title: 'Signed commands (ES256 + x5c): verify rate and round trip',
        rows: [
          { metric: 'command verify, warm chain cache, 1 core (fleetgate: verifyCommand; baseline: raw node:crypto ES256 verify)', fleetgate: round(rates.ours, 0), baseline: round(rates.raw, 0), unit: 'ops/s', ratio: round(rates.ours / rates.raw, 2) },
          { metric: 'command verify, cold chain (new signer certificate each time)', fleetgate: round(rates.cold, 0), baseline: round(rates.raw, 0), unit: 'ops/s', ratio: round(rates.cold / rates.raw, 2) },
          { metric: `round trip p50 (fleetgate: signed command -> car -> signed result, verified; baseline: unsigned QoS 1 echo), N=${N}`, fleetgate: round(percentile(signed, 50), 2), baseline: round(percentile(plain, 50), 2), unit: 'ms', target: '< 50 ms' },
          { metric: `round trip p99, N=${N}`, fleetgate: round(percentile(signed, 99), 2), baseline: round(percentile(plain, 99), 2), unit: 'ms' },
        ],
        notes: [
          'verify: jose compactVerify (WebCrypto, ES256 only) after our shape checks, chain from the cache, replay set updated; the raw baseline is crypto.verify of the same signing input and key.',
          'round trip: brokers, backend and car share this one process (and core); the signed path adds sign + verify at the backend and at the car (4 ECDSA operations) and the broker\'s edge check; the unsigned echo runs through a second broker with the edge check off (--no-enforce-signed-commands), which would refuse it.',
          'the simulator turns Nagle off on its sockets; a broker that leaves it on adds a delayed-ACK wait (~40 ms) to each round trip (noDelay: true in the tls.Server options removes it; FG_BENCH_NODELAY=1 shows the difference).',
        ],
      }
    } finally {
      await backend.close()
      await plainBackend.close()
      await car.stop()
      await echo.stop()
      await broker.close()
      await plainBroker.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
