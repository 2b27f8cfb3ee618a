// Helpers of the persistent-session tests: numbered QoS 1 messages.
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt'
import type { Credentials } from '../harness/mqtt.js'

/** publish `count` QoS 1 messages whose payloads are from, from+1, ...; resolves when all are PUBACKed */
export async function publishSeq (client: MqttClient, topic: string, from: number, count: number, inFlight = 200): Promise<void> {
  let next = from
  const end = from + count
  async function worker (): Promise<void> {
    while (next < end) {
      const n = next++
      await client.publishAsync(topic, String(n), { qos: 1 })
    }
  }
  // a worker pool keeps order of sending (MQTT.js writes in call order) and bounds packets in flight
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker))
}

export interface Received {
  readonly client: MqttClient
  /** payload numbers in arrival order */
  readonly seqs: number[]
  readonly sessionPresent: boolean
}

/**
 * Connect (no reconnects) and collect numbered messages until `count` arrive,
 * `stop` says so, the connection closes, or `ms` pass.
 */
export function receiveSeq (port: number, creds: Credentials, opts: IClientOptions, count: number, ms: number, stop?: (seq: number, received: number) => boolean | void): Promise<Received> {
  const client = mqtt.connect({ protocol: 'mqtts', host: '127.0.0.1', port, servername: 'localhost', ...creds, reconnectPeriod: 0, protocolVersion: 4, ...opts })
  const seqs: number[] = []
  let sessionPresent = false
  let connected = false
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => finish(), ms)
    function finish () { clearTimeout(t); client.removeAllListeners('message'); resolve({ client, seqs, sessionPresent }) }
    client.once('connect', (connack) => { connected = true; sessionPresent = connack.sessionPresent })
    // after CONNACK an error (the node killed) ends the session like a close
    client.on('error', (err) => { if (!connected) { clearTimeout(t); reject(err) } })
    client.on('close', () => { if (connected) finish() })
    client.on('message', (_topic, payload) => {
      seqs.push(Number(payload.toString()))
      if (stop?.(seqs[seqs.length - 1]!, seqs.length) === true || seqs.length >= count) finish()
    })
  })
}

/** poll until the condition holds; throws after ms */
export async function until (cond: () => Promise<boolean> | boolean, ms: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
