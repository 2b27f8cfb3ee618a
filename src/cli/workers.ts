// `fleetgate serve --workers N|auto`: one primary process, N worker processes that
// share the listening port (node:cluster: the primary accepts and hands connections
// round-robin; every TLS handshake and MQTT session is in a worker). Workers share
// sessions, clientId owners, retained messages, revocations and TLS ticket secrets
// through Redis exactly as cluster nodes do, so `--workers` needs `--redis`.
//
// The primary: restarts a worker that dies (logged, with a back-off when it dies
// young); SIGHUP reloads every worker; SIGTERM (or POST /drain) drains every worker
// (each at --drain-rate / N, so the node as a whole keeps --drain-rate), then exits;
// SIGINT closes them at once. It serves the metrics/admin port: one metrics view
// (prom-client's cluster aggregator), /readyz ready when every worker is.
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { workerCount, formatDuration, type Config } from '../config/index.js'
import { createAuditLogger } from '../audit/index.js'
import { serveMetrics, primaryMetrics, shareWithPrimary, type Readiness, type MetricsServer } from '../metrics/index.js'
import type { RunningBroker } from '../broker/index.js'
import type { ReloadResult } from '../reload/index.js'
import { untilStopped, ExitCode } from './program.js'

/** the environment variable a worker finds its id (1..N, kept by its restarts) in */
export const WORKER_ID_ENV = 'FLEETGATE_WORKER_ID'

/** primary -> worker */
type ToWorker =
  | { fg: 'readiness'; req: number }
  | { fg: 'drain'; rate: number; timeout: number }
  | { fg: 'reload' }
  | { fg: 'close' }
/** worker -> primary */
type ToPrimary =
  | { fg: 'listening'; port: number }
  | { fg: 'readiness'; req: number; readiness: Readiness }
  | { fg: 'reloaded'; line: string; ok: boolean }

function isMessage (m: unknown): m is { fg: string } {
  return typeof m === 'object' && m !== null && typeof (m as { fg?: unknown }).fg === 'string'
}

/** In a worker: answer the primary (readiness, drain, reload, close) and share the metrics. */
export function workerSide (running: RunningBroker): void {
  shareWithPrimary(running.fleetgate.metrics.registry)
  const send = (m: ToPrimary) => { if (process.connected) process.send!(m) }
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return
    const msg = m as ToWorker
    if (msg.fg === 'readiness') send({ fg: 'readiness', req: msg.req, readiness: running.readiness() })
    else if (msg.fg === 'drain') void running.drain({ rate: msg.rate, timeout: msg.timeout })
    else if (msg.fg === 'reload') {
      const r: ReloadResult = running.reload()
      send({ fg: 'reloaded', ok: r.ok, line: r.ok ? `reloaded (roles: ${r.roles.join(', ')}; ${r.kept} sessions kept, ${r.closed} closed: policy_changed)` : `reload failed, old configuration kept: ${r.error.toLine()}` })
    } else if (msg.fg === 'close') process.emit('SIGINT', 'SIGINT')
  })
  // the primary is gone (killed): nothing supervises this worker any more
  process.on('disconnect', () => { void running.close().finally(() => process.exit(0)) })
  send({ fg: 'listening', port: running.port })
}

interface Slot {
  readonly id: number
  worker?: Worker
  startedAt: number
  listening: boolean
  /** SIGHUPs the primary had taken when this worker was forked */
  reloadsAtFork: number
  /** ms before the next restart when it dies young */
  backoff: number
}

const YOUNG_MS = 10_000
const MAX_BACKOFF_MS = 30_000

export async function runPrimary (config: Config): Promise<void> {
  const n = workerCount(config.workers!, availableParallelism())!
  const log = createAuditLogger({ level: config.logLevel }).child({ worker: 'primary' })
  const slots: Slot[] = Array.from({ length: n }, (_, i) => ({ id: i + 1, startedAt: 0, listening: false, reloadsAtFork: 0, backoff: 1000 }))
  /** SIGHUPs taken: a worker still starting when one came reloads once it listens */
  let reloads = 0
  /** the drain's per-worker rate, once draining: a worker still starting then drains once it listens */
  let drainRate: number | undefined
  let stopping: 'drain' | 'close' | undefined
  let started = false
  let port = 0
  const metrics = primaryMetrics(() => slots.filter((s) => s.listening).length)

  // one request at a time per kind; answers matched by number
  let onListening = () => {}
  let seq = 0
  const waiting = new Map<number, { left: number; answers: Array<{ id: number; readiness: Readiness }>; done: () => void }>()
  const fork = (slot: Slot) => {
    slot.startedAt = Date.now()
    slot.listening = false
    slot.reloadsAtFork = reloads
    const w = cluster.fork({ [WORKER_ID_ENV]: String(slot.id) })
    slot.worker = w
    w.on('message', (m: unknown) => {
      if (!isMessage(m)) return
      const msg = m as ToPrimary
      if (msg.fg === 'listening') {
        slot.listening = true
        port = msg.port
        // a worker takes messages only once it listens: what it missed while starting, again
        if (reloads > slot.reloadsAtFork) { slot.reloadsAtFork = reloads; w.send({ fg: 'reload' } satisfies ToWorker) }
        if (drainRate !== undefined) w.send({ fg: 'drain', rate: drainRate, timeout: config.drainTimeout } satisfies ToWorker)
        onListening()
        if (started) {
          log.info({ evt: 'worker.listening', id: slot.id, pid: w.process.pid }, 'worker restarted and listening')
          process.stderr.write(`fleetgate: worker ${slot.id} (pid ${w.process.pid}) back\n`)
        }
      } else if (msg.fg === 'readiness') {
        const r = waiting.get(msg.req)
        if (r) { r.answers.push({ id: slot.id, readiness: msg.readiness }); if (--r.left === 0) r.done() }
      } else if (msg.fg === 'reloaded') {
        process.stderr.write(`fleetgate: worker ${slot.id}: ${msg.line}\n`)
      }
    })
    w.on('exit', (code, signal) => {
      slot.listening = false
      if (slot.worker === w) slot.worker = undefined
      if (stopping !== undefined || !started) return
      // a worker died: logged, and restarted (later when it dies young, so a crash loop does not spin)
      const young = Date.now() - slot.startedAt < YOUNG_MS
      const delay = young ? slot.backoff : 0
      slot.backoff = young ? Math.min(MAX_BACKOFF_MS, slot.backoff * 2) : 1000
      log.error({ evt: 'worker.exit', id: slot.id, pid: w.process.pid, code, signal, restartInMs: delay }, 'worker died; restarting it')
      process.stderr.write(`fleetgate: worker ${slot.id} (pid ${w.process.pid}) died (${signal ?? `exit ${code}`}); restarting it${delay ? ` in ${formatDuration(delay)}` : ''}\n`)
      metrics.restarted()
      setTimeout(() => { if (stopping === undefined) fork(slot) }, delay).unref()
    })
  }

  // Start: every worker listening, or none (a bad start ends the primary with the worker's exit code).
  for (const slot of slots) fork(slot)
  await new Promise<void>((resolve, reject) => {
    onListening = () => { if (slots.every((s) => s.listening)) { cluster.off('exit', failed); resolve() } }
    const failed = (_w: Worker, code: number | null) => {
      cluster.off('exit', failed)
      stopping = 'close'
      for (const s of slots) s.worker?.process.kill('SIGKILL')
      reject(new ExitCode(code === null || code === 0 ? 1 : code))
    }
    cluster.on('exit', failed)
  })
  onListening = () => {}
  started = true

  const askReadiness = (): Promise<Array<{ id: number; readiness: Readiness }>> => new Promise((resolve) => {
    const live = slots.filter((s) => s.listening && s.worker?.isConnected())
    if (live.length === 0) return resolve([])
    const req = ++seq
    const entry = { left: live.length, answers: [] as Array<{ id: number; readiness: Readiness }>, done: () => { clearTimeout(t); waiting.delete(req); resolve(entry.answers) } }
    const t = setTimeout(entry.done, 2000)
    waiting.set(req, entry)
    for (const s of live) s.worker!.send({ fg: 'readiness', req } satisfies ToWorker)
  })
  const readiness = async (): Promise<Readiness> => {
    const answers = await askReadiness()
    const notReady = answers.filter((a) => !a.readiness.ready)
    const sessions = answers.reduce((sum, a) => sum + Number(a.readiness.checks.sessions ?? 0), 0)
    const checks: Record<string, string | number | boolean> = {
      workers: `${answers.length - notReady.length}/${n} ready`,
      draining: stopping === 'drain',
      sessions,
    }
    // the first worker not ready says why (its own checks)
    if (notReady[0]) for (const [k, v] of Object.entries(notReady[0].readiness.checks)) if (k !== 'sessions' && k !== 'draining') checks[k] = v
    return { ready: stopping === undefined && answers.length === n && notReady.length === 0, checks }
  }

  const allExited = (ms: number) => new Promise<void>((resolve) => {
    const done = () => { if (slots.every((s) => s.worker === undefined || s.worker.isDead())) { clearInterval(poll); clearTimeout(t); resolve() } }
    const poll = setInterval(done, 100)
    const t = setTimeout(() => { clearInterval(poll); for (const s of slots) if (s.worker && !s.worker.isDead()) s.worker.process.kill('SIGKILL'); resolve() }, ms)
    done()
  })
  let drainedAll: (() => void) | undefined
  const drainRequested = new Promise<'drain'>((resolve) => { drainedAll = () => resolve('drain') })
  const drain = () => {
    if (stopping === undefined) {
      stopping = 'drain'
      const rate = Math.max(1, Math.floor(config.drainRate / n))
      drainRate = rate
      log.warn({ evt: 'node.drain', workers: n, ratePerWorker: rate, timeoutMs: config.drainTimeout }, 'node draining: every worker')
      for (const s of slots) s.worker?.send({ fg: 'drain', rate, timeout: config.drainTimeout } satisfies ToWorker)
      drainedAll?.()
    }
  }

  let admin: MetricsServer | undefined
  if (config.metricsPort !== undefined) {
    try {
      admin = await serveMetrics(() => metrics.body(), config.metricsPort, config.metricsHost, { readiness, drain: async () => { drain(); return await readiness() } })
    } catch (err) {
      stopping = 'close'
      for (const s of slots) s.worker?.process.kill('SIGKILL')
      throw err
    }
  }
  process.stderr.write(`fleetgate: mTLS MQTT on ${config.host}:${port}, ${n} workers` +
    (admin ? `, admin on ${config.metricsHost}:${admin.port}` : '') + '\n')
  log.info({ evt: 'node.listening', port, workers: n }, 'fleetgate primary: every worker listening')

  const onHup = () => {
    reloads++
    for (const s of slots) if (s.listening) { s.reloadsAtFork = reloads; s.worker?.send({ fg: 'reload' } satisfies ToWorker) }
  }
  process.on('SIGHUP', onHup)
  let why = await Promise.race([untilStopped(undefined), drainRequested])
  if (why === 'SIGTERM' || why === 'drain') {
    drain()
    process.stderr.write(`fleetgate: ${why === 'SIGTERM' ? 'SIGTERM' : 'drain requested'}, draining ${n} workers at ${config.drainRate}/s in all (at most ${formatDuration(config.drainTimeout)})\n`)
    // a second SIGTERM or a SIGINT: every worker closes at once
    const r = await Promise.race([allExited(config.drainTimeout + 15_000).then(() => 'drained'), untilStopped(undefined)])
    if (r !== 'drained') why = r
  }
  if (why !== 'SIGTERM' && why !== 'drain') {
    stopping = 'close'
    for (const s of slots) if (s.worker?.isConnected()) s.worker.send({ fg: 'close' } satisfies ToWorker)
    await allExited(10_000)
  }
  process.off('SIGHUP', onHup)
  await admin?.close()
  process.stderr.write('fleetgate: every worker stopped; exiting\n')
}
