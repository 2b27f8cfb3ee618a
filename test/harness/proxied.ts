// A client behind a load balancer: a PROXY header on the TCP connection, then
// TLS and MQTT (real MQTT.js over a real TLS socket). By default the header and
// the TLS ClientHello leave in one TCP write, as a balancer's often arrive: the
// broker then finds the client's first bytes in the same read as the header.
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { duplexPair } from 'node:stream'
import { MqttClient, type IClientOptions } from 'mqtt'
import { outcomeOf, type ConnectOutcome, type Credentials } from './mqtt.js'

export interface ProxiedOptions {
  /** the source address of the TCP connection (a loopback address: 127.0.0.x) */
  readonly localAddress?: string
  /** write the header alone, first, rather than with the first TLS bytes */
  readonly separate?: boolean
  /** a TLS session (ticket) to offer */
  readonly session?: Buffer
}

/** A TLS socket to 127.0.0.1:port whose TCP connection starts with `header` (null: none). */
export function proxiedTls (port: number, creds: Credentials, header: Buffer | null, opts: ProxiedOptions = {}): { tls: TLSSocket; raw: Socket } {
  const raw = netConnect({ host: '127.0.0.1', port, localAddress: opts.localAddress ?? '127.0.0.1' })
  raw.on('error', () => {})
  const [inner, outer] = duplexPair()
  const tls = tlsConnect({ socket: inner, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key, session: opts.session })
  let pending = header
  if (pending !== null && opts.separate === true) { raw.write(pending); pending = null }
  outer.on('data', (chunk: Buffer) => {
    raw.write(pending === null ? chunk : Buffer.concat([pending, chunk]))
    pending = null
  })
  raw.on('data', (chunk: Buffer) => outer.write(chunk))
  raw.on('close', () => { outer.destroy(); tls.destroy() })
  tls.on('close', () => raw.destroy())
  return { tls, raw }
}

/** Connect once through a PROXY header, no reconnects: the client, or how it was refused. */
export async function tryConnectProxied (port: number, creds: Credentials, header: Buffer | null, mqttOpts: IClientOptions = {}, opts: ProxiedOptions = {}): Promise<ConnectOutcome> {
  return await outcomeOf(new MqttClient(() => proxiedTls(port, creds, header, opts).tls, {
    protocol: 'mqtts', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60,
    reconnectPeriod: 0, connectTimeout: 5000, ...mqttOpts,
  }))
}
