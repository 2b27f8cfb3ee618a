// A raw MQTT 3.1.1 client over real TLS (mqtt-packet on a tls socket), for what
// MQTT.js will not do: withhold a PUBREL, send malformed or out-of-order packets.
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import type { Credentials } from './mqtt.js'

export interface RawClient {
  readonly socket: TLSSocket
  readonly packets: Array<{ cmd: string; returnCode?: number; messageId?: number; sessionPresent?: boolean }>
  send (packet: Record<string, unknown>): void
  /** resolves with the first packet matching, or null on close/timeout */
  next (cmd: string, timeoutMs?: number): Promise<{ cmd: string; returnCode?: number; messageId?: number } | null>
  closed (): Promise<void>
  end (): void
}

export async function rawConnect (port: number, creds: Credentials, connect: { clientId: string; clean: boolean; keepalive?: number }): Promise<RawClient> {
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: creds.ca, cert: creds.cert, key: creds.key })
  await new Promise<void>((resolve, reject) => { socket.once('secureConnect', () => resolve()); socket.once('error', reject) })
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const packets: RawClient['packets'] = []
  const waiters: Array<() => void> = []
  let isClosed = false
  parser.on('packet', (p) => { packets.push(p as RawClient['packets'][number]); for (const w of waiters.splice(0)) w() })
  socket.on('data', (d) => parser.parse(d))
  socket.on('error', () => {})
  const closedP = new Promise<void>((resolve) => socket.once('close', () => { isClosed = true; for (const w of waiters.splice(0)) w(); resolve() }))
  const client: RawClient = {
    socket,
    packets,
    send (packet) { if (!socket.destroyed) socket.write(mqttPacket.generate(packet as unknown as mqttPacket.Packet)) },
    async next (cmd, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      let seen = 0
      for (;;) {
        for (; seen < packets.length; seen++) if (packets[seen]!.cmd === cmd) return packets.splice(seen, 1)[0]!
        if (isClosed || Date.now() >= deadline) return null
        await new Promise<void>((resolve) => { const t = setTimeout(resolve, Math.max(1, deadline - Date.now())); waiters.push(() => { clearTimeout(t); resolve() }) })
      }
    },
    closed: () => closedP,
    end () { socket.end() },
  }
  client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: connect.clean, clientId: connect.clientId, keepalive: connect.keepalive ?? 60 })
  return client
}
