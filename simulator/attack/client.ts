// The attacker's primitives: what an MQTT/TLS client can do and see. Every
// wait is bounded; every client made here is handed to a Scope, which the
// runner closes after the attack (also when it timed out).
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt'
import type { BrokerAddress } from '../broker-url.js'
import { mqttsOptions, type ClientTlsPem } from '../../src/index.js'

/** Everything an attack opened; closed by the runner when the attack ends. */
export class Scope {
  readonly #closers: Array<() => Promise<void> | void> = []
  add (close: () => Promise<void> | void): void { this.#closers.push(close) }
  client (c: MqttClient): MqttClient { this.add(() => c.endAsync(true).then(() => {}, () => {})); return c }
  async closeAll (): Promise<void> {
    const all = this.#closers.splice(0).reverse()
    await Promise.all(all.map(async (f) => { try { await f() } catch { /* already gone */ } }))
  }
}

export type ConnectOutcome =
  | { readonly kind: 'connected'; readonly client: MqttClient; readonly sessionPresent?: boolean }
  | { readonly kind: 'connack'; readonly code: number }
  | { readonly kind: 'tls'; readonly message: string }
  | { readonly kind: 'closed'; readonly message: string }
  | { readonly kind: 'timeout' }

export function describeOutcome (o: ConnectOutcome): string {
  switch (o.kind) {
    case 'connected': return 'CONNACK 0 (accepted)'
    case 'connack': return `CONNACK ${o.code} (refused)`
    case 'tls': return `TLS handshake refused (${o.message})`
    case 'closed': return o.message === CLOSED_BY_BROKER ? 'closed by the broker before CONNACK' : `closed before CONNACK (${o.message})`
    case 'timeout': return 'no CONNACK in time'
  }
}

const CLOSED_BY_BROKER = 'connection closed'

function tlsFailure (err: Error & { code?: unknown }): boolean {
  const code = typeof err.code === 'string' ? err.code : ''
  return code.startsWith('ERR_SSL') || /alert|certificate|handshake|SSL/i.test(err.message)
}

function shortError (err: Error & { code?: unknown }): string {
  // an OpenSSL error's code says it all; its message is a long internal string
  if (typeof err.code === 'string' && err.code !== '') return err.code
  return (err.message.split('\n')[0] ?? '').slice(0, 120)
}

/** One MQTT 3.1.1 CONNECT attempt, no reconnects. */
export async function attempt (scope: Scope, addr: BrokerAddress, tls: ClientTlsPem, opts: IClientOptions & { clientId: string }, timeoutMs = 5000): Promise<ConnectOutcome> {
  return await new Promise((resolve) => {
    const client = scope.client(mqtt.connect(mqttsOptions(addr, tls, { connectTimeout: timeoutMs, keepalive: 30, ...opts })))
    let settled = false
    let lastError: (Error & { code?: unknown }) | undefined
    const finish = (o: ConnectOutcome) => { if (settled) return; settled = true; clearTimeout(timer); resolve(o) }
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs + 500)
    client.once('connect', (connack) => finish({ kind: 'connected', client, sessionPresent: !!connack.sessionPresent }))
    client.on('error', (err: Error & { code?: unknown }) => {
      lastError = err
      if (typeof err.code === 'number') finish({ kind: 'connack', code: err.code })
      else if (tlsFailure(err)) finish({ kind: 'tls', message: shortError(err) })
    })
    client.once('close', () => {
      if (lastError && tlsFailure(lastError)) finish({ kind: 'tls', message: shortError(lastError) })
      else finish({ kind: 'closed', message: lastError ? shortError(lastError) : CLOSED_BY_BROKER })
    })
  })
}

/** Resolves with ms until the client's connection closed, or null if still open after timeoutMs. */
export async function closedWithin (client: MqttClient, timeoutMs: number): Promise<number | null> {
  const start = performance.now()
  if (!client.connected && client.disconnected) return 0
  return await new Promise((resolve) => {
    const t = setTimeout(() => { client.off('close', on); resolve(null) }, timeoutMs)
    const on = () => { clearTimeout(t); resolve(performance.now() - start) }
    client.once('close', on)
  })
}

/** SUBSCRIBE at QoS 1; the SUBACK codes as sent (0x80 = refused), or null when none came. */
export async function subscribeCodes (client: MqttClient, filters: readonly string[], timeoutMs: number): Promise<number[] | null> {
  return await new Promise((resolve) => {
    const t = setTimeout(() => { client.off('packetreceive', onPacket); resolve(null) }, timeoutMs)
    const onPacket = (p: unknown) => {
      const packet = p as { cmd: string; granted?: Array<number | { qos: number }> }
      if (packet.cmd !== 'suback') return
      clearTimeout(t); client.off('packetreceive', onPacket)
      resolve((packet.granted ?? []).map((g) => (typeof g === 'number' ? g : g.qos)))
    }
    client.on('packetreceive', onPacket)
    client.subscribe([...filters], { qos: 1 }, () => {})
  })
}

export function hexCodes (codes: readonly number[] | null): string {
  if (codes === null) return 'no SUBACK'
  return 'SUBACK ' + codes.map((c) => '0x' + c.toString(16).padStart(2, '0')).join(' ')
}

export type PublishOutcome = 'acked' | 'closed' | 'timeout'

/** PUBLISH at QoS 1 and wait for its PUBACK or for the broker to close the connection [MQTT-3.3.5-2]. */
export async function publishOutcome (client: MqttClient, topic: string, payload: string | Buffer, opts: { retain?: boolean }, timeoutMs: number): Promise<{ outcome: PublishOutcome; ms: number }> {
  const start = performance.now()
  return await new Promise((resolve) => {
    let settled = false
    const finish = (outcome: PublishOutcome) => {
      if (settled) return
      settled = true; clearTimeout(t); client.off('close', onClose)
      resolve({ outcome, ms: performance.now() - start })
    }
    const onClose = () => finish('closed')
    const t = setTimeout(() => finish('timeout'), timeoutMs)
    client.once('close', onClose)
    client.publish(topic, payload, { qos: 1, retain: opts.retain === true }, (err) => { if (!err) finish('acked') })
  })
}

export interface Received { readonly topic: string; readonly payload: Buffer; readonly retain: boolean }

/** Start recording the client's messages; stop() returns them. */
export function record (client: MqttClient): { readonly got: Received[]; stop (): Received[] } {
  const got: Received[] = []
  const on = (topic: string, payload: Buffer, packet: { retain?: boolean }) => {
    if (got.length < 1000) got.push({ topic, payload, retain: !!packet.retain })
  }
  client.on('message', on)
  return { got, stop () { client.off('message', on); return got } }
}

/** Open a TLS connection (handshake only) and report when the broker closes it. */
export async function rawTls (scope: Scope, addr: BrokerAddress, tls: ClientTlsPem, timeoutMs: number): Promise<{ socket: TLSSocket } | { error: string }> {
  return await new Promise((resolve) => {
    const socket = tlsConnect({ host: addr.host, port: addr.port, servername: addr.servername, ca: tls.ca, cert: tls.cert, key: tls.key })
    scope.add(() => { socket.destroy() })
    const t = setTimeout(() => { socket.destroy(); resolve({ error: 'TLS handshake did not finish in time' }) }, timeoutMs)
    socket.once('secureConnect', () => { clearTimeout(t); resolve({ socket }) })
    socket.once('error', (err) => { clearTimeout(t); resolve({ error: shortError(err) }) })
  })
}
