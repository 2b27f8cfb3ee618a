// Attacks on the byte stream: a huge packet, a connection that never says
// CONNECT, and a connection flood from one address. Each is bounded by the
// limits the tester says the broker runs with (--connect-timeout-hint,
// --max-connections-hint).
import type { Attack } from './types.js'
import { attempt, publishOutcome, rawTls, type ConnectOutcome } from './client.js'
import { Inconclusive } from './not-judged.js'
import { vehicleTopics } from '../topics.js'
import { attackerPair } from './context.js'

/** larger than any sane MQTT limit for this channel (fleetgate's default is 128 KiB) */
export const OVERSIZED_BYTES = 1024 * 1024
/** the flood opens this many connections beyond the cap */
export const FLOOD_EXTRA = 10
export const MAX_FLOOD = 2000

export const oversizedPacket: Attack = {
  id: 'oversized-packet',
  title: 'Oversized packet',
  family: 'transport',
  decider: 'broker',
  expects: 'packet_too_large',
  means: 'A genuine car sends a 1 MiB PUBLISH on its own topic. Without a size limit one client can make the broker buffer and parse arbitrarily large packets (memory exhaustion).',
  async run (ctx) {
    const pair = attackerPair(ctx)
    const o = await attempt(ctx.scope, ctx.addr, ctx.tls(pair), { clientId: ctx.attackerVin })
    if (o.kind !== 'connected') throw new Inconclusive(`the attacker's genuine certificate was refused (${o.kind})`)
    const p = await publishOutcome(o.client, vehicleTopics(ctx.attackerVin).telemetry('speed'), Buffer.alloc(OVERSIZED_BYTES, 0x41), {}, 10_000)
    if (p.outcome === 'acked') return { blocked: false, observed: `PUBACK for a ${OVERSIZED_BYTES} byte packet` }
    return { blocked: true, observed: p.outcome === 'closed' ? `connection closed after ${Math.round(p.ms)} ms, no PUBACK` : 'no PUBACK within 10 s' }
  },
}

export const neverConnect: Attack = {
  id: 'never-connect',
  title: 'Connection that never sends CONNECT',
  family: 'transport',
  decider: 'broker',
  expects: 'connect_timeout',
  means: 'A client finishes the TLS handshake and then stays silent. Without a connect timeout a few thousand such sockets tie up the broker.',
  timeoutMs: (ctx) => ctx.connectTimeoutHintMs + 10_000,
  async run (ctx) {
    const pair = attackerPair(ctx)
    const limit = ctx.connectTimeoutHintMs + Math.max(2000, ctx.connectTimeoutHintMs / 2)
    const r = await rawTls(ctx.scope, ctx.addr, ctx.tls(pair), 5000)
    if ('error' in r) throw new Inconclusive(`TLS handshake failed: ${r.error}`)
    const start = performance.now()
    const closedAfter = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => resolve(null), limit)
      r.socket.once('close', () => { clearTimeout(t); resolve(performance.now() - start) })
      r.socket.resume()
    })
    r.socket.destroy()
    return closedAfter === null
      ? { blocked: false, observed: `still open after ${(limit / 1000).toFixed(1)} s without CONNECT (hint: --connect-timeout ${ctx.connectTimeoutHintMs} ms)` }
      : { blocked: true, observed: `closed by the broker after ${(closedAfter / 1000).toFixed(1)} s without CONNECT` }
  },
}

export const connectionFlood: Attack = {
  id: 'connection-flood',
  title: 'Connection flood from one address',
  family: 'transport',
  decider: 'broker',
  expects: 'too_many_connections',
  means: 'One address opens more concurrent connections than the per-address cap (--max-connections-per-ip + 10), each with a valid certificate. Beyond the cap they must be refused.',
  timeoutMs: () => 30_000,
  async run (ctx) {
    const n = Math.min(MAX_FLOOD, ctx.maxConnectionsHint + FLOOD_EXTRA)
    const tls = ctx.tls(ctx.pki.backend)
    const cn = ctx.backendCredentials().cn
    const outcomes: ConnectOutcome[] = await Promise.all(Array.from({ length: n }, (_, i) =>
      attempt(ctx.scope, ctx.addr, tls, { clientId: `${cn}-flood-${i}` }, 8000)))
    const accepted = outcomes.filter((o) => o.kind === 'connected').length
    const connack = outcomes.filter((o) => o.kind === 'connack').length
    const other = n - accepted - connack
    for (const o of outcomes) if (o.kind === 'connected') o.client.end(true)
    return {
      blocked: accepted <= ctx.maxConnectionsHint && accepted < n,
      observed: `${n} concurrent connections: ${accepted} accepted, ${connack} CONNACK 5, ${other} closed/failed (hint: cap ${ctx.maxConnectionsHint})`,
    }
  },
}
