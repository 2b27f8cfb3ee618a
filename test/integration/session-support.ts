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

/** connect (no reconnects) and collect numbered messages until `count` arrive or `ms` pass */
export function receiveSeq (port: number, creds: Credentials, opts: IClientOptions, count: number, ms: number, onMessage?: (seq: number, received: number) => void): Promise<Received> {
  const client = mqtt.connect({ protocol: 'mqtts', host: '127.0.0.1', port, servername: 'localhost', ...creds, reconnectPeriod: 0, protocolVersion: 4, ...opts })
  const seqs: number[] = []
  let sessionPresent = false
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => finish(), ms)
    function finish () { clearTimeout(t); client.removeAllListeners('message'); resolve({ client, seqs, sessionPresent }) }
    client.once('connect', (connack) => { sessionPresent = connack.sessionPresent })
    client.once('error', (err) => { clearTimeout(t); reject(err) })
    client.on('close', () => { if (seqs.length > 0 || sessionPresent) finish() })
    client.on('message', (_topic, payload) => {
      seqs.push(Number(payload.toString()))
      onMessage?.(seqs[seqs.length - 1]!, seqs.length)
      if (seqs.length >= count) finish()
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
