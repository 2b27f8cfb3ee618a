// A fleet backend (`fleetgate sim backend`): signs a command with its own key
// (x5c = its leaf + issuing CA), publishes it at QoS 1 on the car's commands
// topic, and waits for the car's signed result, which it verifies (ES256, x5c
// chains to the pinned root through the fleet issuing CA, leaf CN = the VIN,
// OU vehicle, jti matches) before believing it.
import { randomBytes } from 'node:crypto'
import mqtt, { type MqttClient } from 'mqtt'
import { mqttsOptions, signCommand, verifyResult, type CommandInput, type ResultPayload, type UserSigningKey } from '../src/index.js'
import { parseBrokerUrl } from './broker-url.js'
import type { ClientCredentials } from './credentials.js'
import { vehicleTopics } from './topics.js'
import { noDelay } from './no-delay.js'

export type CommandOutcome =
  | { kind: 'result'; result: ResultPayload; rttMs: number; ignored: number }
  | { kind: 'timeout'; rttMs: number; ignored: number; lastProblem?: string }
  /** the broker closed the connection (with --enforce-signed-commands: the command was refused at the edge) */
  | { kind: 'closed'; rttMs: number; ignored: number }

export interface Backend {
  readonly clientId: string
  readonly client: MqttClient
  /** sign and send one command, wait for the car's verified result */
  send (input: CommandInput, opts?: { timeoutMs?: number }): Promise<CommandOutcome & { jti: string }>
  /** send an already-built JWS (tests, attacks) and wait for the verified result for `jti` */
  sendRaw (vin: string, jws: string | Buffer, jti: string, opts?: { timeoutMs?: number }): Promise<CommandOutcome>
  close (): Promise<void>
}

interface Waiter { vin: string; jti: string; onResult: (r: ResultPayload) => void; onIgnored: (problem: string) => void }

export interface BackendOptions {
  readonly connectTimeoutMs?: number
  /** sign commands with this user key (kid header: a phone) instead of the certificate's key (x5c) */
  readonly userKey?: UserSigningKey
}

export async function connectBackend (url: string, creds: ClientCredentials, opts: BackendOptions = {}): Promise<Backend> {
  const addr = parseBrokerUrl(url)
  const clientId = `${creds.cn}-${randomBytes(4).toString('hex')}`
  const client = mqtt.connect(mqttsOptions(addr, { ca: creds.caPem, cert: creds.certPem, key: creds.keyPem }, {
    clientId, connectTimeout: opts.connectTimeoutMs ?? 10_000,
  }))
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => { noDelay(client); resolve() })
    client.once('error', (err) => { client.end(true); reject(err) })
    client.once('close', () => reject(new Error('connection closed before CONNACK')))
  })
  const waiters = new Set<Waiter>()
  const subscribed = new Set<string>()

  client.on('message', (topic, payload) => {
    for (const w of waiters) {
      if (topic !== vehicleTopics(w.vin).results) continue
      if (payload.length > 16 * 1024) { w.onIgnored('result larger than 16 KiB'); continue }
      verifyResult(payload.toString('latin1'), { chains: creds.chains, vin: w.vin, jti: w.jti, now: Date.now() })
        .then((d) => { if (d.ok) w.onResult(d.result); else if (!/answers another command/.test(d.problem)) w.onIgnored(d.problem) })
        .catch((err: unknown) => w.onIgnored(String(err)))
    }
  })

  async function ensureSubscribed (vin: string): Promise<void> {
    const t = vehicleTopics(vin).results
    if (subscribed.has(t)) return
    await client.subscribeAsync(t, { qos: 1 })
    subscribed.add(t)
  }

  async function wait (vin: string, jti: string, started: number, publish: () => Promise<unknown>, timeoutMs: number): Promise<CommandOutcome> {
    let ignored = 0
    let lastProblem: string | undefined
    let w: Waiter | undefined
    let timer: NodeJS.Timeout | undefined
    let onClose: (() => void) | undefined
    try {
      return await new Promise<CommandOutcome>((resolve, reject) => {
        w = {
          vin, jti,
          onResult: (result) => resolve({ kind: 'result', result, rttMs: performance.now() - started, ignored }),
          onIgnored: (problem) => { ignored++; lastProblem = problem },
        }
        waiters.add(w)
        timer = setTimeout(() => resolve({ kind: 'timeout', rttMs: performance.now() - started, ignored, lastProblem }), timeoutMs)
        onClose = () => resolve({ kind: 'closed', rttMs: performance.now() - started, ignored })
        client.once('close', onClose)
        publish().catch(reject)
      })
    } finally {
      if (w) waiters.delete(w)
      if (onClose) client.off('close', onClose)
      clearTimeout(timer)
    }
  }

  return {
    clientId,
    client,
    async send (input, o = {}) {
      await ensureSubscribed(input.vin)
      const started = performance.now()
      const { jws, payload } = await signCommand(input, opts.userKey ?? creds.signing)
      const out = await wait(input.vin, payload.jti, started, () => client.publishAsync(vehicleTopics(input.vin).commands, jws, { qos: 1 }), o.timeoutMs ?? 10_000)
      return { ...out, jti: payload.jti }
    },
    async sendRaw (vin, jws, jti, o = {}) {
      await ensureSubscribed(vin)
      const started = performance.now()
      return await wait(vin, jti, started, () => client.publishAsync(vehicleTopics(vin).commands, jws, { qos: 1 }), o.timeoutMs ?? 10_000)
    },
    async close () { await client.endAsync(false).catch(() => {}) },
  }
}
