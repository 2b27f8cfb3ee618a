// Draining a node (SIGTERM, `fleetgate drain`, POST /drain): the listener stops
// accepting at once (readiness is false from the first moment), then live sessions
// are closed at --drain-rate per second so their cars reconnect to the other nodes
// without a storm. A drained car is not dead: its Will is dropped, not published
// (endSession marks the session first, then Aedes deletes the Will unpublished).
// Persistent sessions, their subscriptions and QoS 1 messages in flight stay in the
// shared store (Redis) for the node the car comes back to.
import type { Server, TLSSocket } from 'node:tls'
import type { Client } from 'aedes'
import type { AuditLogger } from '../audit/index.js'
import type { DecisionCounter } from '../contract/checks.js'
import { endSession } from './end-session.js'
import type { SessionRegistry } from './session.js'

export interface DrainOptions {
  /** sessions closed per second */
  readonly rate: number
  /** ms; what is left then is closed at once */
  readonly timeout: number
}

export interface DrainResult {
  /** sessions closed at the drain rate */
  readonly drained: number
  /** sessions (and connections not yet authenticated) closed at once at the timeout */
  readonly cut: number
  readonly ms: number
  readonly timedOut: boolean
}

export interface DrainDeps {
  readonly server: Server
  readonly sessions: SessionRegistry
  readonly log: AuditLogger
  readonly decisions: DecisionCounter
  /** TLS connections handed to Aedes and not closed yet */
  readonly connections: ReadonlySet<TLSSocket>
  /** from now on a TLS handshake that ends is closed before CONNECT (one begun before the listener closed) */
  readonly stopAdmitting: () => void
}

const TICK_MS = 50
const END = { evt: 'drain.kick', reason: 'draining', message: 'session closed: node draining' } as const

/** the clients to close: authenticated sessions first (oldest first, as the registry keeps them) */
function nextSessions (sessions: SessionRegistry, n: number): Client[] {
  const out: Client[] = []
  for (const c of sessions.live()) {
    if (out.length >= n) break
    if (!c.closed && sessions.get(c)?.endedFor === undefined) out.push(c)
  }
  return out
}

export function drainNode (deps: DrainDeps, opts: DrainOptions): Promise<DrainResult> {
  const { server, sessions, log, decisions, connections } = deps
  const started = Date.now()
  // stop accepting: connections already handed go on (a CONNECT in progress becomes a session, drained in turn);
  // a handshake still under way is closed when it ends (else it could become a session after "drained")
  server.close()
  deps.stopAdmitting()
  log.warn({ evt: 'node.drain', sessions: sessions.size, connections: connections.size, rate: opts.rate, timeoutMs: opts.timeout }, 'node draining: listener closed, sessions closing at the drain rate')
  let drained = 0
  let budget = 0
  let last = started
  return new Promise((resolve) => {
    const finish = (timedOut: boolean) => {
      clearInterval(timer)
      let cut = 0
      // what is left is closed at once (at the timeout; or one that became a session just now), Wills dropped all the same
      for (const c of sessions.live()) {
        const s = sessions.get(c)
        if (s !== undefined && endSession(c, s, END, decisions)) cut++
      }
      // connections without a session (before or during CONNECT): nothing to keep
      for (const socket of [...connections]) if (!socket.destroyed) { socket.destroy(); cut++ }
      const result = { drained, cut, ms: Date.now() - started, timedOut }
      log.warn({ evt: 'node.drained', ...result }, timedOut ? 'drain timed out: the rest closed at once' : 'node drained')
      resolve(result)
    }
    const tick = () => {
      const now = Date.now()
      if (now - started >= opts.timeout) return finish(true)
      // a token bucket of one second at most: a stalled event loop does not close a burst
      budget = Math.min(opts.rate, budget + (now - last) * opts.rate / 1000)
      last = now
      const n = Math.floor(budget)
      if (n > 0) {
        for (const c of nextSessions(sessions, n)) {
          const s = sessions.get(c)
          if (s !== undefined && endSession(c, s, END, decisions)) { drained++; budget-- }
        }
      }
      if (sessions.size === 0) finish(false)
    }
    const timer = setInterval(tick, TICK_MS)
    tick()
  })
}
