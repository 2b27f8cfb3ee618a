// Real MQTT.js clients over real TLS, with certificates from a PKI directory.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt'

export interface Credentials { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer }

/** cert.pem + key.pem from a directory; the trust anchor is the PKI root. */
export function credentials (pkiDir: string, certDir: string, certFile = 'cert.pem', keyFile = 'key.pem'): Credentials {
  return {
    ca: readFileSync(join(pkiDir, 'root-ca.pem')),
    cert: readFileSync(join(certDir, certFile)),
    key: readFileSync(join(certDir, keyFile)),
  }
}

export type ConnectOutcome =
  | { ok: true; client: MqttClient; sessionPresent: boolean }
  | { ok: false; returnCode?: number; error: string }

/** How a client's first connect ends: the client at CONNACK 0, or how it was refused. */
export function outcomeOf (client: MqttClient): Promise<ConnectOutcome> {
  return new Promise((resolve) => {
    let settled = false
    const finish = (o: ConnectOutcome) => { if (!settled) { settled = true; resolve(o) } }
    client.once('connect', (connack) => finish({ ok: true, client, sessionPresent: !!connack.sessionPresent }))
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true)
      finish({ ok: false, returnCode: typeof err.code === 'number' ? err.code : undefined, error: err.message })
    })
    client.once('close', () => { client.end(true); finish({ ok: false, error: 'closed' }) })
  })
}

/** Connect once, no reconnects; resolves with the client or with how it was refused. */
export async function tryConnect (port: number, creds: Partial<Credentials> & { ca: Buffer }, opts: IClientOptions = {}): Promise<ConnectOutcome> {
  return await outcomeOf(mqtt.connect({
    protocol: 'mqtts', host: '127.0.0.1', port, servername: 'localhost',
    ca: creds.ca, cert: creds.cert, key: creds.key,
    reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, clean: true,
    ...opts,
  }))
}

export async function connect (port: number, creds: Credentials, opts: IClientOptions = {}): Promise<MqttClient> {
  const o = await tryConnect(port, creds, opts)
  if (!o.ok) throw new Error(`connect refused: ${o.error} rc=${o.returnCode}`)
  return o.client
}

/** connect, and say whether the broker resumed a stored session (CONNACK sessionPresent) */
export async function connectSession (port: number, creds: Credentials, opts: IClientOptions = {}): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  const o = await tryConnect(port, creds, opts)
  if (!o.ok) throw new Error(`connect refused: ${o.error} rc=${o.returnCode}`)
  return { client: o.client, sessionPresent: o.sessionPresent }
}

/** Resolve when the client's connection closes (a denied QoS 1 publish never settles: ARCHITECTURE.md "Known pitfalls of the libraries"). */
export async function closed (client: MqttClient, timeoutMs = 5000): Promise<void> {
  if (!client.connected && client.disconnected) return
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('connection not closed in time')), timeoutMs)
    client.once('close', () => { clearTimeout(t); resolve() })
  })
}

/** Collect messages on a client until `count` arrive or `ms` pass. */
export async function collect (client: MqttClient, ms: number, count = Infinity): Promise<Array<{ topic: string; payload: Buffer; retain: boolean }>> {
  const got: Array<{ topic: string; payload: Buffer; retain: boolean }> = []
  return await new Promise((resolve) => {
    const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }) => {
      got.push({ topic, payload, retain: !!packet.retain })
      if (got.length >= count) done()
    }
    const t = setTimeout(done, ms)
    function done () { clearTimeout(t); client.off('message', onMessage); resolve(got) }
    client.on('message', onMessage)
  })
}

export async function end (...clients: Array<MqttClient | undefined>): Promise<void> {
  await Promise.all(clients.map(async (c) => { if (c) await c.endAsync(true).catch(() => {}) }))
}

/** SUBSCRIBE and return the SUBACK return codes as sent by the broker (0x80 = refused). */
export async function subackCodes (client: MqttClient, filters: Array<{ topic: string; qos: 0 | 1 | 2 }>, timeoutMs = 5000): Promise<number[]> {
  return await new Promise((resolve, reject) => {
    const t = setTimeout(() => { client.off('packetreceive', onPacket); reject(new Error('no SUBACK')) }, timeoutMs)
    const onPacket = (p: unknown) => {
      const packet = p as { cmd: string; granted?: number[] }
      if (packet.cmd !== 'suback') return
      clearTimeout(t); client.off('packetreceive', onPacket)
      resolve(packet.granted!.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos)))
    }
    client.on('packetreceive', onPacket)
    client.subscribe(filters.map((f) => f.topic), { qos: 1 }, () => {})
  })
}

/** Open a client but resolve only once it is connected, collecting from the very first packet. */
export function connectCollecting (port: number, creds: Credentials, opts: IClientOptions, ms: number): Promise<{ client: MqttClient; messages: Array<{ topic: string; payload: Buffer }> }> {
  const client = mqtt.connect({ protocol: 'mqtts', host: '127.0.0.1', port, servername: 'localhost', ...creds, reconnectPeriod: 0, protocolVersion: 4, ...opts })
  const messages: Array<{ topic: string; payload: Buffer }> = []
  client.on('message', (topic, payload) => messages.push({ topic, payload }))
  return new Promise((resolve, reject) => {
    client.once('error', reject)
    client.once('connect', () => setTimeout(() => resolve({ client, messages }), ms))
  })
}
