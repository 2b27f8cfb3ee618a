// `npm run bench -- slow-subscriber`: the fleet's QoS 0 and QoS 1 rate with one
// stuck subscriber (a second backend on vehicles/+/telemetry/+ that stopped reading
// its socket) against none (the same backend reading), side by side in one run, and the broker's RSS over time
// in the stuck case. fleetgate's startBroker with its defaults (1 MiB outbound
// buffer, 10 s slow-consumer timeout), in its own process; the load from this one.
import { performance } from 'node:perf_hooks'
import { readFileSync } from 'node:fs'
import type { TLSSocket } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import type { BenchSection } from './types.js'
import { benchCerts } from './lib/certs.js'
import { startBrokerProc, type BrokerProc } from './lib/broker-proc.js'
import { contextOf, mqttConnect, publishPacket, pubackPacket, subscribePacket } from './lib/mqtt-raw.js'
import type { Client } from './lib/workloads.js'
import { round } from './lib/stats.js'

const log = (line: string) => process.stderr.write(line + '\n')
const MiB = 1024 * 1024

/** The broker's RSS read from /proc, without a GC in the broker (which would stall it mid-measure). */
function rssOf (b: BrokerProc): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${b.pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

interface Leg { rate: number; received: number; rss: number[]; stuckClosed?: boolean; lost: number }

/** A second backend on the same filter: it stops reading after its SUBACK (stuck), or reads and PUBACKs. */
async function secondSubscriber (port: number, c: Client, qos: 0 | 1, stuck: boolean): Promise<TLSSocket> {
  const s = await mqttConnect(port, c.ctx, c.clientId)
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  await new Promise<void>((resolve) => {
    parser.on('packet', (p: mqttPacket.Packet) => {
      if (p.cmd === 'suback') resolve()
      else if (p.cmd === 'publish' && p.qos === 1) s.write(pubackPacket(p.messageId!))
    })
    s.on('data', (d: Buffer) => parser.parse(d))
    s.write(subscribePacket('vehicles/+/telemetry/+', qos))
  })
  if (stuck) { s.removeAllListeners('data'); s.pause() }
  return s
}

/**
 * Four cars publish as fast as the broker takes it (at most `window` messages in
 * flight end to end) for `ms`, to a fast backend; with `stuck`, a second backend on
 * the same filter has stopped reading. RSS sampled every second in the stuck case.
 */
async function leg (b: BrokerProc, publishers: readonly Client[], fast: Client, second: Client, stuck: boolean, qos: 0 | 1, ms: number): Promise<Leg> {
  const secondSocket = await secondSubscriber(b.port, second, qos, stuck)
  const stuckSocket = stuck ? secondSocket : null
  const sub = await mqttConnect(b.port, fast.ctx, fast.clientId)
  const pubs = await Promise.all(publishers.map(async (p) => {
    const s = await mqttConnect(b.port, p.ctx, p.clientId)
    s.on('data', () => {}) // PUBACKs
    return { s, topic: `vehicles/${p.clientId}/telemetry/speed`, id: 0 }
  }))
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  let received = 0
  let sent = 0
  let written = 0 // messages given up on (none expected: the fast backend reads)
  const window = 2000
  let subacked: () => void = () => {}
  const onSuback = new Promise<void>((resolve) => { subacked = resolve })
  let running = false
  const pump = () => {
    while (running && sent - received - written < window) {
      const p = pubs[sent % pubs.length]!
      p.id = p.id >= 65535 ? 1 : p.id + 1
      p.s.write(publishPacket(p.topic, qos, p.id, performance.now()))
      sent++
    }
  }
  parser.on('packet', (p: mqttPacket.Packet) => {
    if (p.cmd === 'suback') return subacked()
    if (p.cmd !== 'publish') return
    received++
    if (p.qos === 1) sub.write(pubackPacket(p.messageId!))
    pump()
  })
  sub.on('data', (d: Buffer) => parser.parse(d))
  sub.write(subscribePacket('vehicles/+/telemetry/+', qos))
  await onSuback

  const rss: number[] = []
  const t0 = performance.now()
  running = true
  pump()
  // A window with no progress for 1 s is reopened (and counted), so a lost message cannot stop the leg.
  let last = -1
  const topUp = setInterval(() => { if (received === last) written = sent - received; last = received; pump() }, 1000)
  if (stuck) rss.push(rssOf(b))
  const t1 = t0 + ms
  while (performance.now() < t1) {
    await new Promise((r) => setTimeout(r, Math.min(1000, t1 - performance.now())))
    if (stuck && performance.now() < t1) rss.push(rssOf(b))
  }
  running = false
  clearInterval(topUp)
  const got = received
  const elapsed = (performance.now() - t0) / 1000
  let stuckClosed: boolean | undefined
  if (stuckSocket) {
    // Read what it left unread: a socket the broker closed during the leg then ends.
    stuckClosed = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 3000)
      stuckSocket.once('end', () => { clearTimeout(t); resolve(true) })
      stuckSocket.on('data', () => {})
      stuckSocket.resume()
    })
  }
  for (const p of pubs) p.s.destroy()
  sub.destroy()
  secondSocket.destroy()
  await new Promise((r) => setTimeout(r, 500))
  return { rate: got / elapsed, received: got, rss, stuckClosed, lost: written }
}

export async function run (opts: { quick: boolean }): Promise<BenchSection> {
  const ms = opts.quick ? 4000 : 15_000
  const certs = await benchCerts(8, log)
  const cars: Client[] = certs.vehicles.slice(0, 4).map((v) => ({ ctx: contextOf({ ca: certs.ca, cert: v.cert, key: v.key }), clientId: v.vin }))
  const backendCtx = contextOf({ ca: certs.ca, ...certs.backend })
  const fast: Client = { ctx: backendCtx, clientId: 'fleet-backend-fast' }
  const second: Client = { ctx: backendCtx, clientId: 'fleet-backend-second' }
  const rows: BenchSection['rows'] = []
  const notes: string[] = []
  for (const qos of [0, 1] as const) {
    // A fresh broker per QoS: the stuck leg's RSS curve starts from a broker that ran the same load without it.
    const b = await startBrokerProc('fleetgate', certs.dir)
    try {
      log(`bench: slow-subscriber: QoS ${qos}, warm-up`)
      await leg(b, cars, fast, second, false, qos, 1500)
      log(`bench: slow-subscriber: QoS ${qos}, no stuck subscriber, ${ms} ms`)
      const none = await leg(b, cars, fast, second, false, qos, ms)
      log(`bench: slow-subscriber: QoS ${qos}, one stuck subscriber, ${ms} ms`)
      const withStuck = await leg(b, cars, fast, second, true, qos, ms)
      const after = await b.rss()
      rows.push({ metric: `QoS ${qos} fleet rate, one stuck subscriber (baseline: none)`, fleetgate: round(withStuck.rate, 0), baseline: round(none.rate, 0), unit: 'msg/s', target: '>= 0.8x' })
      notes.push(`QoS ${qos} stuck leg, broker RSS every 1 s (MiB): ${withStuck.rss.map((r) => round(r / MiB, 0)).join(', ')}; ${round(after / MiB, 0)} after the leg`)
      if (none.lost + withStuck.lost > 0) notes.push(`QoS ${qos}: the fast backend missed ${none.lost} / ${withStuck.lost} messages (none / stuck legs)`)
      notes.push(`QoS ${qos} stuck subscriber ${withStuck.stuckClosed ? 'closed by the broker during the leg (slow_consumer)' : 'still connected at the end of the leg'}`)
    } finally {
      await b.stop()
    }
  }
  notes.push(`4 cars publish as fast as the broker delivers (2,000 in flight end to end) to a backend on vehicles/+/telemetry/+ for ${ms / 1000} s per leg; the stuck backend, on the same filter and QoS, stopped reading after its SUBACK (clean session: QoS 1 past the bound is dropped for it, as QoS 0)`)
  notes.push('baseline leg: the second backend reads (and PUBACKs) instead, so both legs deliver each message twice until the stuck one passes its bound; the rate is what the first backend receives')
  return { title: 'Slow subscriber: fleet rate with one stuck subscriber', rows, notes }
}
