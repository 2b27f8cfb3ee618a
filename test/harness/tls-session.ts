// One MQTT CONNECT over a real TLS connection that may offer a TLS session
// ticket, for the resumption tests: says whether the TLS session was resumed,
// what CONNACK came back, and hands back the newest ticket the server sent.
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import type { Credentials } from './mqtt.js'

export interface TicketConnect {
  /** the TLS handshake completed */
  readonly secured: boolean
  /** the TLS session was resumed from the ticket offered */
  readonly resumed: boolean
  /** CONNACK return code, or undefined when none came (TLS refused, connection closed) */
  readonly returnCode?: number
  /** the newest session (ticket) the server sent, to offer next time */
  readonly session?: Buffer
  /** the negotiated key exchange group, as the client saw it */
  readonly group?: string
  readonly error?: string
  /** the open socket when keepOpen was asked and the car got in */
  readonly socket?: TLSSocket
}

export interface TicketConnectOptions {
  readonly clientId: string
  readonly session?: Buffer
  /** the client's key exchange groups (tls ecdhCurve) */
  readonly groups?: string
  /** keep the connection after CONNACK 0 (closed by the caller) */
  readonly keepOpen?: boolean
  readonly timeoutMs?: number
}

export async function connectWithTicket (port: number, creds: Credentials, o: TicketConnectOptions): Promise<TicketConnect> {
  return await new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1', port, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key,
      ...(o.session ? { session: o.session } : {}),
      ...(o.groups ? { ecdhCurve: o.groups } : {}),
    })
    let session: Buffer | undefined
    let secured = false
    let resumed = false
    let group: string | undefined
    let returnCode: number | undefined
    let settled = false
    const finish = (error?: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const keep = o.keepOpen === true && returnCode === 0 && !socket.destroyed
      if (!keep) socket.destroy()
      resolve({ secured, resumed, returnCode, session, group, error, ...(keep ? { socket } : {}) })
    }
    const timer = setTimeout(() => finish('timeout'), o.timeoutMs ?? 5000)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => {
      if (p.cmd !== 'connack') return
      returnCode = (p as { returnCode?: number }).returnCode
      // TLS 1.3 tickets follow the handshake: give the server's a moment to arrive
      setTimeout(() => finish(), 60)
    })
    socket.on('session', (s: Buffer) => { session = s })
    socket.on('data', (d: Buffer) => parser.parse(d))
    socket.on('error', (err) => finish(err.message))
    socket.on('close', () => finish(returnCode === undefined ? 'closed' : undefined))
    socket.once('secureConnect', () => {
      secured = true
      // read now: once the server closes, the socket no longer says
      resumed = socket.isSessionReused()
      const info = socket.getEphemeralKeyInfo() as { name?: string } | null
      group = info?.name
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: o.clientId, keepalive: 60 } as mqttPacket.Packet))
    })
  })
}
