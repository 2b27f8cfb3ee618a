// Hostile clients beyond certificates and topics (issue 15 item 6): malformed
// MQTT over a genuine TLS connection, QoS 2 PUBLISHes never released, a
// subscriber that never reads while cars flood, and thousands of TLS
// connections that never say CONNECT. Each must be refused or closed with the
// broker alive: after each attack a genuine car must still connect.
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import { attackerPair, type AttackContext } from './context.js'
import { attempt, describeOutcome } from './client.js'
import { closedWithin, connectPacket, flood, publishPacket, rawConnect, subscribePacket, type RawConnect } from './raw-mqtt.js'
import { STAYS_UP, type Attack, type ExpectedReason, type Observation } from './types.js'
import { Inconclusive, SkipAttack } from './not-judged.js'
import { vehicleTopics } from '../topics.js'

/** A genuine car still gets CONNACK 0: the broker survived the attack. */
async function brokerAlive (ctx: AttackContext): Promise<string | null> {
  const o = await attempt(ctx.scope, ctx.addr, ctx.tls(attackerPair(ctx)), { clientId: ctx.attackerVin }, 5000)
  if (o.kind === 'connected') { o.client.end(true); return null }
  return describeOutcome(o)
}

function describeRaw (r: RawConnect): string {
  return r.kind === 'connack' ? `CONNACK ${r.code}` : r.kind === 'closed' ? 'closed by the broker, no CONNACK' : `${r.kind}: ${r.message}`
}

async function judged (ctx: AttackContext, refused: boolean, observed: string): Promise<Observation> {
  const dead = await brokerAlive(ctx)
  if (dead !== null) return { blocked: false, observed: `${observed}; afterwards a genuine car got: ${dead} (broker down?)` }
  return { blocked: refused, observed: `${observed}; broker alive` }
}

/** Bytes sent instead of a CONNECT, or after a CONNACK 0; blocked when the broker refuses or closes. */
function malformed (id: string, title: string, expects: ExpectedReason, means: string, when: 'connect' | 'session', bytes: (ctx: AttackContext) => Buffer): Attack {
  return {
    id, title, expects, means, family: 'protocol', decider: 'broker',
    async run (ctx) {
      const tls = ctx.tls(attackerPair(ctx))
      if (when === 'connect') {
        const r = await rawConnect(ctx.addr, tls, bytes(ctx), 5000)
        if (r.kind === 'connack') r.socket.destroy()
        return await judged(ctx, !(r.kind === 'connack' && r.code === 0), describeRaw(r))
      }
      const r = await rawConnect(ctx.addr, tls, connectPacket({ clientId: ctx.attackerVin }), 5000)
      if (r.kind !== 'connack' || r.code !== 0) throw new Inconclusive(`the attacker's genuine CONNECT was refused (${describeRaw(r)})`)
      ctx.scope.add(() => { r.socket.destroy() })
      r.socket.on('data', () => {})
      r.socket.write(bytes(ctx))
      const ms = await closedWithin(r.socket, 3000)
      return await judged(ctx, ms !== null, ms !== null ? `connection closed after ${Math.round(ms)} ms` : 'connection still open after 3 s')
    },
  }
}

const telemetry = (ctx: AttackContext) => vehicleTopics(ctx.attackerVin).telemetry('speed')

export const badRemainingLength = malformed('bad-remaining-length', 'Malformed remaining length', 'malformed_packet',
  'A PUBLISH whose remaining-length varint runs past four bytes [MQTT-2.2.3]: a parser that trusts it reads garbage lengths.',
  'session', () => Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))
export const wrongProtocolName = malformed('wrong-protocol-name', 'CONNECT with a wrong protocol name', 'malformed_packet',
  'A CONNECT naming protocol "MQTX" instead of "MQTT" [MQTT-3.1.2-1]: the broker must close, not guess.',
  'connect', (ctx) => connectPacket({ clientId: ctx.attackerVin, protocolName: 'MQTX' }))
export const protocolLevel5 = malformed('protocol-level-5', 'CONNECT at protocol level 5', 'unsupported_protocol',
  'An MQTT 5 CONNECT to an MQTT 3.1.1 broker: refused with CONNACK 1 (unacceptable protocol version) [MQTT-3.1.2-2], never half-understood.',
  'connect', (ctx) => connectPacket({ clientId: ctx.attackerVin, level: 5 }))
export const reservedFlags = malformed('reserved-flags', 'Reserved header flags set', 'malformed_packet',
  'A SUBSCRIBE whose fixed-header reserved flags are 0000 instead of 0010 [MQTT-3.8.1-1]: a malformed packet closes the connection.',
  'session', (ctx) => { const p = subscribePacket(vehicleTopics(ctx.attackerVin).commands, 0); p[0] = 0x80; return p })
export const secondConnect = malformed('second-connect', 'A second CONNECT', 'protocol_violation',
  'A second CONNECT on a live session [MQTT-3.1.0-2], e.g. to change identity or keepalive mid-session: a protocol violation closes the connection.',
  'session', (ctx) => connectPacket({ clientId: ctx.attackerVin }))
export const publishQos3 = malformed('publish-qos-3', 'PUBLISH with QoS 3', 'malformed_packet',
  'A PUBLISH with both QoS bits set [MQTT-3.3.1-4]: there is no QoS 3, the packet is malformed.',
  'session', (ctx) => publishPacket(telemetry(ctx), Buffer.from('1'), 1, 1, 0x36))
export const emptyTopic = malformed('empty-topic', 'PUBLISH to an empty topic', 'protocol_violation',
  'A PUBLISH whose topic is the empty string [MQTT-4.7.3-1]: it must not reach the policy or any subscriber.',
  'session', () => publishPacket('', Buffer.from('1'), 0))
export const nulInTopic = malformed('nul-in-topic', 'U+0000 in a topic', 'topic_denied',
  'A PUBLISH on the car\'s own telemetry topic with a NUL character in a level [MQTT-1.5.3-2]: a NUL may cut the topic short in a C consumer behind the broker.',
  'session', (ctx) => publishPacket(`${telemetry(ctx)}\u0000x`, Buffer.from('1'), 0))

/** PUBRECs (4 bytes each, 0x50) a raw connection receives, counted as they come */
function pubrecsOf (socket: TLSSocket): { n: number } {
  const seen = { n: 0 }
  socket.on('data', (d: Buffer) => { for (let i = 0; i + 3 < d.length; i += 4) if (d[i] === 0x50) seen.n++ })
  return seen
}

/** QoS 2 PUBLISHes sent, none released */
export const QOS2_FLOOD = 10_000

export const qos2NeverReleased: Attack = {
  id: 'qos2-never-released',
  title: '10,000 QoS 2 PUBLISHes never released',
  family: 'protocol',
  decider: 'broker',
  expects: 'too_many_inflight',
  means: `A genuine car sends ${QOS2_FLOOD} QoS 2 PUBLISHes with fresh packet ids and never answers a PUBREC with PUBREL. Each is held by the broker until released: without a bound, one client grows that state without end.`,
  async run (ctx) {
    const r = await rawConnect(ctx.addr, ctx.tls(attackerPair(ctx)), connectPacket({ clientId: ctx.attackerVin }), 5000)
    if (r.kind !== 'connack' || r.code !== 0) throw new Inconclusive(`the attacker's genuine CONNECT was refused (${describeRaw(r)})`)
    ctx.scope.add(() => { r.socket.destroy() })
    const pubrecs = pubrecsOf(r.socket)
    const topic = telemetry(ctx)
    const f = await flood(r.socket, (i) => publishPacket(topic, Buffer.from('1'), 2, i + 1), QOS2_FLOOD, 5000)
    const ms = f.closed ? 0 : await closedWithin(r.socket, 3000)
    const observed = `${f.sent} QoS 2 PUBLISHes sent, ~${pubrecs.n} PUBREC seen, ` + (ms === null ? 'connection still open' : 'connection closed by the broker')
    return await judged(ctx, ms !== null, observed)
  },
}

/** connections that never send CONNECT, and fewer in --quick */
export const SILENT_CONNECTIONS = 2000
export const SILENT_CONNECTIONS_QUICK = 500

function loopback (host: string): boolean {
  return host === 'localhost' || /^127\./.test(host) || host === '::1'
}

/** The i-th source address of a loopback attack: 127.0.x.y, `perAddress` connections each (under the per-address cap). */
function sourceAddress (i: number, perAddress: number, block: number): string {
  const a = Math.floor(i / perAddress)
  return `127.0.${block + Math.floor(a / 250)}.${(a % 250) + 2}`
}

export const silentConnections: Attack = {
  id: 'silent-tls-connections',
  title: 'Thousands of TLS connections that never send CONNECT',
  family: 'protocol',
  decider: 'broker',
  expects: 'connect_timeout',
  means: `${SILENT_CONNECTIONS} genuine TLS connections (${SILENT_CONNECTIONS_QUICK} in --quick) that finish the handshake and stay silent, spread over loopback source addresses to stay under the per-address cap. All must be closed at the connect deadline.`,
  timeoutMs: (ctx) => ctx.connectTimeoutHintMs + 40_000,
  async run (ctx) {
    if (!loopback(ctx.addr.host)) throw new SkipAttack('needs a loopback target (it spreads its connections over 127.0.x.y source addresses)')
    const n = ctx.quick ? SILENT_CONNECTIONS_QUICK : SILENT_CONNECTIONS
    const perAddress = Math.max(1, Math.min(ctx.maxConnectionsHint - 1, 40))
    const tls = ctx.tls(attackerPair(ctx))
    const sockets: TLSSocket[] = []
    ctx.scope.add(() => { for (const s of sockets) s.destroy() })
    const t0 = performance.now()
    let failed = 0
    let next = 0
    // 64 handshakes in flight at a time
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < n) {
        const i = next++
        await new Promise<void>((resolve) => {
          const s = connect({ host: ctx.addr.host, port: ctx.addr.port, servername: ctx.addr.servername, ca: tls.ca, cert: tls.cert, key: tls.key, localAddress: sourceAddress(i, perAddress, 10) } as ConnectionOptions)
          const onClose = () => { failed++; resolve() }
          s.on('error', () => {})
          s.once('secureConnect', () => { s.off('close', onClose); sockets.push(s); s.resume(); resolve() })
          s.once('close', onClose)
        })
      }
    }))
    const opened = performance.now() - t0
    if (sockets.length === 0) throw new Inconclusive(`no TLS connection could be opened (${failed} failed)`)
    const deadline = ctx.connectTimeoutHintMs + Math.max(3000, opened)
    const closed = await Promise.all(sockets.map((s) => closedWithin(s, deadline)))
    const open = closed.filter((c) => c === null).length
    const observed = `${sockets.length} silent TLS connections opened in ${(opened / 1000).toFixed(1)} s${failed > 0 ? ` (${failed} failed)` : ''}; ` +
      (open === 0 ? `all closed by the broker within ${(deadline / 1000).toFixed(1)} s` : `${open} still open after ${(deadline / 1000).toFixed(1)} s`)
    return await judged(ctx, open === 0, observed)
  },
}

/** cars flooding while the subscriber is stuck, and how long */
export const FLOOD_CARS = 50
export const STUCK_MS = 3000

/** how long the reading backend and the probe car may take to be served during the flood */
const SERVED_WITHIN_MS = 10_000

export const stuckSubscriber: Attack = {
  id: 'stuck-subscriber',
  title: 'A subscriber that never reads while 50 cars flood',
  family: 'protocol',
  decider: 'broker',
  // Nothing in this branch refuses anyone here (a car under its publish rate, a subscriber within Aedes' 60 s drainTimeout):
  // the broker must stay up and serve the others. A slow-consumer bound would make it `slow_consumer`.
  expects: STAYS_UP,
  means: `A backend subscribes to every car's telemetry and then never reads its socket, while ${FLOOD_CARS} cars publish QoS 0 as fast as their sockets drain. ` +
    'The broker must stay up and keep serving other clients: a car\'s QoS 1 PUBLISH acknowledged and delivered to a backend that reads.',
  timeoutMs: () => 40_000,
  async run (ctx) {
    if (!loopback(ctx.addr.host)) throw new SkipAttack('needs a loopback target (it spreads its connections over 127.0.x.y source addresses)')
    const cars = await ctx.floodCars(FLOOD_CARS)
    const perAddress = Math.max(1, Math.min(ctx.maxConnectionsHint - 1, 40))
    const backend = ctx.tls(ctx.pki.backend)
    const cn = ctx.backendCredentials().cn
    const stuck = await rawConnect(ctx.addr, backend, connectPacket({ clientId: `${cn}-stuck` }), 5000, sourceAddress(0, 1, 20))
    if (stuck.kind !== 'connack' || stuck.code !== 0) throw new Inconclusive(`the stuck backend was refused (${describeRaw(stuck)})`)
    ctx.scope.add(() => { stuck.socket.destroy() })
    stuck.socket.write(subscribePacket('vehicles/+/telemetry/+', 0))
    await sleep(200)
    stuck.socket.pause() // never reads again
    const sockets: Array<{ socket: TLSSocket; topic: string }> = []
    ctx.scope.add(() => { for (const c of sockets) c.socket.destroy() })
    await Promise.all(cars.map(async (car, i) => {
      const r = await rawConnect(ctx.addr, ctx.tls(car), connectPacket({ clientId: car.vin }), 10_000, sourceAddress(i, perAddress, 21))
      if (r.kind === 'connack' && r.code === 0) { r.socket.on('data', () => {}); sockets.push({ socket: r.socket, topic: vehicleTopics(car.vin).telemetry('speed') }) }
    }))
    if (sockets.length === 0) throw new Inconclusive('no flooding car could connect')
    const floods = Promise.all(sockets.map((c) => flood(c.socket, (k) => publishPacket(c.topic, Buffer.from(String(k)), 0), 1_000_000, STUCK_MS)))
    // meanwhile: a backend that reads, and a genuine car that publishes QoS 1 on its own topic
    await sleep(STUCK_MS / 2)
    // generous bounds: the 50 flooding cars share this machine's cores with the broker (a TLS handshake waits for CPU)
    const reader = await attempt(ctx.scope, ctx.addr, backend, { clientId: `${cn}-reader` }, SERVED_WITHIN_MS)
    const probe = await attempt(ctx.scope, ctx.addr, ctx.tls(attackerPair(ctx)), { clientId: ctx.attackerVin }, SERVED_WITHIN_MS)
    let served = `not served (reading backend: ${describeOutcome(reader)}, probe car: ${describeOutcome(probe)})`
    if (reader.kind === 'connected' && probe.kind === 'connected') {
      const topic = telemetry(ctx)
      await reader.client.subscribeAsync(topic, { qos: 1 })
      const got = new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), SERVED_WITHIN_MS)
        reader.client.on('message', (tp) => { if (tp === topic) { clearTimeout(t); resolve(true) } })
      })
      const t0 = performance.now()
      const acked = await Promise.race([probe.client.publishAsync(topic, 'probe', { qos: 1 }).then(() => true, () => false), sleep(SERVED_WITHIN_MS).then(() => false)])
      const delivered = await got
      served = acked && delivered ? `a car's QoS 1 PUBLISH acknowledged and delivered to a reading backend in ${Math.round(performance.now() - t0)} ms` : `probe ${acked ? 'acknowledged' : 'not acknowledged'}, ${delivered ? 'delivered' : 'not delivered'} within ${SERVED_WITHIN_MS / 1000} s`
    }
    const results = await floods
    const sent = results.reduce((a, r) => a + r.sent, 0)
    const stuckClosed = stuck.socket.destroyed
    const observed = `${sockets.length} cars sent ${sent} QoS 0 PUBLISHes in ${(STUCK_MS / 1000).toFixed(0)} s to a stuck subscriber; ${served}` +
      (stuckClosed ? '; the stuck subscriber was disconnected' : '; the stuck subscriber is still connected')
    return await judged(ctx, served.startsWith('a car'), observed)
  },
}

/** unreleased QoS 2 PUBLISHes the attack stores before it reconnects: the broker's default --max-inflight-qos2 */
export const QOS2_PER_CLIENT = 1000

export const qos2Accumulation: Attack = {
  id: 'qos2-accumulation',
  title: 'Unreleased QoS 2 PUBLISHes accumulated over reconnects',
  family: 'protocol',
  decider: 'broker',
  expects: 'too_many_unreleased',
  means: `A genuine car with a persistent session sends ${QOS2_PER_CLIENT} QoS 2 PUBLISHes it never releases, reconnects and sends more. ` +
    'The session keeps them stored, so a bound per connection alone let each reconnect add another thousand (216 -> 275 -> 343 -> 405 MiB over three cycles).',
  async run (ctx) {
    const tls = ctx.tls(attackerPair(ctx))
    const topic = telemetry(ctx)
    const persistent = connectPacket({ clientId: ctx.attackerVin, flags: 0x00 })
    try {
      const first = await rawConnect(ctx.addr, tls, persistent, 5000)
      if (first.kind !== 'connack' || first.code !== 0) throw new Inconclusive(`the attacker's genuine CONNECT was refused (${describeRaw(first)})`)
      ctx.scope.add(() => { first.socket.destroy() })
      const held = pubrecsOf(first.socket)
      await flood(first.socket, (i) => publishPacket(topic, Buffer.from('1'), 2, i + 1), QOS2_PER_CLIENT, 5000)
      for (let t = 0; t < 40 && held.n < QOS2_PER_CLIENT && !first.socket.destroyed; t++) await sleep(50)
      first.socket.destroy()
      await sleep(100)
      const again = await rawConnect(ctx.addr, tls, persistent, 5000)
      if (again.kind !== 'connack' || again.code !== 0) throw new Inconclusive(`the attacker's reconnect was refused (${describeRaw(again)})`)
      ctx.scope.add(() => { again.socket.destroy() })
      const more = pubrecsOf(again.socket)
      again.socket.write(publishPacket(topic, Buffer.from('1'), 2, QOS2_PER_CLIENT + 1))
      const ms = await closedWithin(again.socket, 3000)
      const observed = `${held.n} unreleased QoS 2 stored, then after a reconnect ` +
        (more.n > 0 ? 'one more got PUBREC (stored too)' : ms !== null ? 'one more closed the connection' : 'one more got no answer')
      return await judged(ctx, more.n === 0, observed)
    } finally {
      // a clean session wipes what was stored, for the attacks after this one
      const wipe = await rawConnect(ctx.addr, tls, connectPacket({ clientId: ctx.attackerVin }), 5000)
      if (wipe.kind === 'connack') wipe.socket.destroy()
    }
  },
}
