// A lean MQTT 3.1.1 client over node:tls for load generation: the client must
// cost less than the broker it measures, so packets are written by hand and
// each certificate's SecureContext is made once, before timing.
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls'
import mqttPacket from 'mqtt-packet'

export interface Cred { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer }

export function contextOf (cred: Cred): SecureContext {
  return createSecureContext({ ca: cred.ca, cert: cred.cert, key: cred.key })
}

/** Full TLS handshake (no resumption) + CONNECT; resolves at CONNACK 0. */
export function mqttConnect (port: number, ctx: SecureContext, clientId: string, keepalive = 600): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', secureContext: ctx })
    let got: Buffer = Buffer.alloc(0)
    const fail = (err: Error) => { s.destroy(); reject(err) }
    const t = setTimeout(() => fail(new Error('no CONNACK in 20 s')), 20_000)
    s.once('error', (e) => { clearTimeout(t); fail(e) })
    s.once('secureConnect', () => {
      s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive } as mqttPacket.IConnectPacket))
    })
    const onData = (d: Buffer) => {
      got = got.length ? Buffer.concat([got, d]) : d
      if (got.length < 4) return
      clearTimeout(t)
      s.off('data', onData)
      if (got[0] !== 0x20 || got[3] !== 0) return fail(new Error(`CONNACK rc ${got[3]}`))
      s.removeAllListeners('error')
      s.on('error', () => {})
      if (got.length > 4) s.unshift(got.subarray(4))
      resolve(s)
    }
    s.on('data', onData)
  })
}

/** A PUBLISH with a 16-byte payload whose first 8 bytes are the send time (performance.now()). */
export function publishPacket (topic: string, qos: 0 | 1, messageId: number, now: number): Buffer {
  const t = Buffer.from(topic)
  const rem = 2 + t.length + (qos ? 2 : 0) + 16
  const b = Buffer.allocUnsafe(2 + rem) // rem < 128 here
  let o = 0
  b[o++] = qos ? 0x32 : 0x30
  b[o++] = rem
  b.writeUInt16BE(t.length, o); o += 2
  t.copy(b, o); o += t.length
  if (qos) { b.writeUInt16BE(messageId, o); o += 2 }
  b.writeDoubleLE(now, o); o += 8
  b.fill(0, o)
  return b
}

export function subscribePacket (filter: string, qos: 0 | 1): Buffer {
  return mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] } as mqttPacket.ISubscribePacket)
}

export function pubackPacket (messageId: number): Buffer {
  return Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff])
}
