// The fleet's view of a car's key list: the car's signed record, retained on
// vehicles/{vin}/keys (README "Signed commands", "Pairing"). Believed only
// when that car's own certificate signed it (verifyKeyRecord).
import { randomBytes } from 'node:crypto'
import mqtt from 'mqtt'
import { mqttsOptions, verifyKeyRecord, type KeyRecordPayload } from '../src/index.js'
import { parseBrokerUrl } from './broker-url.js'
import type { ClientCredentials } from './credentials.js'
import { vehicleTopics } from './topics.js'

/** the verified record; why it is not believed; or null when none arrived in time */
export type KeyRecordRead = { record: KeyRecordPayload } | { problem: string; reason?: string } | null

/** The car's signed key list, retained on vehicles/{vin}/keys, verified; null when none arrives in time. */
export async function readKeyRecord (url: string, creds: ClientCredentials, vin: string, timeoutMs: number): Promise<KeyRecordRead> {
  const addr = parseBrokerUrl(url)
  const client = mqtt.connect(mqttsOptions(addr, { ca: creds.caPem, cert: creds.certPem, key: creds.keyPem }, {
    clientId: `${creds.cn}-keys-${randomBytes(4).toString('hex')}`, connectTimeout: timeoutMs, reconnectPeriod: 0,
  }))
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
      client.once('close', () => reject(new Error('connection closed before CONNACK')))
    })
    const topic = vehicleTopics(vin).keys
    const got = new Promise<KeyRecordRead>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs)
      client.on('message', (t, payload) => {
        if (t !== topic) return
        clearTimeout(timer)
        if (payload.length > 16 * 1024) { resolve({ problem: 'key record larger than 16 KiB' }); return }
        verifyKeyRecord(payload.toString('latin1'), { chains: creds.chains, vin, now: Date.now() })
          .then((d) => resolve(d.ok ? { record: d.record } : { problem: `${d.reason}: ${d.problem}`, reason: d.reason }), (err: unknown) => resolve({ problem: String(err) }))
      })
    })
    await client.subscribeAsync(topic, { qos: 1 })
    return await got
  } finally {
    await client.endAsync(true).catch(() => {})
  }
}

