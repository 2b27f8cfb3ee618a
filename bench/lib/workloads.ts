// Client-side workloads of the broker benchmark. They run in the bench process;
// the broker under test runs in its own process (bench/lib/broker-child.ts).
import { performance } from 'node:perf_hooks'
import type { SecureContext, TLSSocket } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import { mqttConnect, publishPacket, subscribePacket, pubackPacket } from './mqtt-raw.js'
import { percentile } from './stats.js'

export interface Client { readonly ctx: SecureContext; readonly clientId: string }

/** Full mTLS connects (handshake + CONNECT/CONNACK) with `concurrency` in flight; each closed at once. */
export async function connectRate (port: number, clients: readonly Client[], concurrency: number): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < clients.length) {
      const c = clients[next++]!
      const s = await mqttConnect(port, c.ctx, c.clientId)
      s.destroy()
    }
  }))
  return clients.length / ((performance.now() - t0) / 1000)
}

/** Open idle authenticated connections and keep them. */
export async function openIdle (port: number, clients: readonly Client[], concurrency: number, into: TLSSocket[]): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < clients.length) {
      const c = clients[next++]!
      into.push(await mqttConnect(port, c.ctx, c.clientId, 3600))
    }
  }))
}

export interface PublishResult { readonly rate: number; readonly p50: number; readonly p99: number; readonly received: number; readonly sent: number }

export type PublishPlan =
  /** as fast as the broker goes, with at most `window` messages in flight end to end */
  | { readonly kind: 'saturate'; readonly total: number; readonly window: number }
  /** a fixed offered rate, for latency */
  | { readonly kind: 'paced'; readonly rate: number; readonly durationMs: number }

/** Several publishers, one backend subscriber on vehicles/+/telemetry/+; latency from the send time in the payload. */
export async function publishRun (port: number, publishers: readonly Client[], subscriber: Client, qos: 0 | 1, plan: PublishPlan): Promise<PublishResult> {
  const sub = await mqttConnect(port, subscriber.ctx, subscriber.clientId)
  const pubs = await Promise.all(publishers.map(async (p) => {
    const s = await mqttConnect(port, p.ctx, p.clientId)
    s.on('data', () => {}) // PUBACKs
    return { s, topic: `vehicles/${p.clientId}/telemetry/speed`, id: 0 }
  }))
  const expected = plan.kind === 'saturate' ? plan.total : Math.floor(plan.rate * plan.durationMs / 1000)
  const latencies = new Float64Array(expected)
  let received = 0
  let sent = 0
  let lastProgress = performance.now()
  let tLast = 0
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  let subacked: () => void = () => {}
  const onSuback = new Promise<void>((resolve) => { subacked = resolve })
  let finished: () => void = () => {}
  const done = new Promise<void>((resolve) => { finished = resolve })
  parser.on('packet', (p: mqttPacket.Packet) => {
    if (p.cmd === 'suback') return subacked()
    if (p.cmd !== 'publish') return
    const now = performance.now()
    if (received < expected) latencies[received] = now - (p.payload as Buffer).readDoubleLE(0)
    received++
    tLast = now; lastProgress = now
    if (p.qos === 1) sub.write(pubackPacket(p.messageId!))
    if (plan.kind === 'saturate') pump()
    if (received >= expected) finished()
  })
  sub.on('data', (d: Buffer) => parser.parse(d))
  sub.write(subscribePacket('vehicles/+/telemetry/+', qos))
  await onSuback

  const sendOne = () => {
    const p = pubs[sent % pubs.length]!
    p.id = p.id >= 65535 ? 1 : p.id + 1
    p.s.write(publishPacket(p.topic, qos, p.id, performance.now()))
    sent++
  }
  function pump () {
    if (plan.kind !== 'saturate') return
    while (sent < plan.total && sent - received < plan.window) sendOne()
  }
  const tFirst = performance.now()
  lastProgress = tFirst
  let timer: NodeJS.Timeout | undefined
  if (plan.kind === 'saturate') pump()
  else {
    const tick = 10
    const perTick = plan.rate * tick / 1000
    let owed = 0
    timer = setInterval(() => {
      owed += perTick
      while (owed >= 1 && sent < expected) { sendOne(); owed-- }
      if (sent >= expected) clearInterval(timer)
    }, tick)
  }
  // Bounded: give up when nothing arrives for 5 s.
  const stall = setInterval(() => { if (performance.now() - lastProgress > 5000) finished() }, 500)
  await done
  clearInterval(stall)
  if (timer) clearInterval(timer)
  for (const p of pubs) p.s.destroy()
  sub.destroy()
  const n = Math.min(received, expected)
  const sorted = latencies.subarray(0, n).sort()
  return { rate: n / ((tLast - tFirst) / 1000), p50: percentile(sorted, 50), p99: percentile(sorted, 99), received, sent }
}
