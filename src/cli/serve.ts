// `fleetgate serve`: the ready broker; with --workers, a primary supervising worker
// processes that share the listening port (./workers.ts).
import cluster from 'node:cluster'
import { newCommand, addOptions, untilStopped } from './program.js'
import { SERVE_OPTIONS, resolveConfig, formatDuration, type Config, type ConfigInput, type ServeOptionName } from '../config/index.js'
import { startBroker, type RunningBroker } from '../broker/index.js'
import { policyPath } from '../broker/fleetgate.js'
import { onReloadSignal, type ReloadResult } from '../reload/index.js'
import { createAuditLogger } from '../audit/index.js'
import { runPrimary, workerSide, WORKER_ID_ENV } from './workers.js'

export function serveCommand () {
  const cmd = newCommand('serve', 'run the mutual-TLS MQTT broker with --ca, --cert and --key, or with --dev on the dev PKI of "fleetgate pki dev" (default: shipped policy, embedded store)')
  addOptions(cmd, Object.keys(SERVE_OPTIONS) as ServeOptionName[])
  cmd.action(async (opts: ConfigInput) => {
    const config = resolveConfig(opts, process.env) // validated once: a bad value stops here
    if (config.workers !== undefined && cluster.isPrimary) return await runPrimary(config)
    await runNode(config)
  })
  return cmd
}

export function reloadLine (r: ReloadResult, who = ''): string {
  return r.ok
    ? `fleetgate: ${who}reloaded (roles: ${r.roles.join(', ')}; ${r.kept} sessions kept, ${r.closed} closed: policy_changed)\n`
    : `fleetgate: ${who}reload failed, old configuration kept: ${r.error.toLine()}\n`
}

/** One broker in this process: the whole node, or one worker of `serve --workers`. */
async function runNode (config: Config): Promise<void> {
  const workerId = cluster.isWorker ? process.env[WORKER_ID_ENV] : undefined
  // a worker's audit lines carry its id; its primary serves the metrics/admin port
  const logger = workerId !== undefined ? createAuditLogger({ level: config.logLevel }).child({ worker: Number(workerId) }) : undefined
  // With --dev and no --policy, startBroker uses the dev PKI's policy.yaml: the shipped
  // one pinned by this PKI's CA keys (the shipped file pins by name only: the keys are made by `pki dev`).
  const running: RunningBroker = await startBroker(config, { logger, admin: workerId === undefined })
  const who = workerId !== undefined ? `worker ${workerId}: ` : ''
  if (workerId !== undefined) workerSide(running)
  else {
    process.stderr.write(`fleetgate: mTLS MQTT on ${config.host}:${running.port}` +
      (running.metrics ? `, admin on ${config.metricsHost}:${running.metrics.port}` : '') +
      (config.dev ? ` (dev PKI in ${config.devPki}, policy ${policyPath(config)}; try: npx fleetgate sim car --help)` : '') + '\n')
  }
  // SIGHUP: reload certificate, key, trust bundle and policy; one line either way.
  // (A worker is told by its primary, over IPC: workerSide.)
  const stopReload = workerId === undefined ? onReloadSignal(() => running.reload(), (r) => process.stderr.write(reloadLine(r))) : () => {}
  // SIGTERM (or POST /drain on the admin port, "fleetgate drain", a primary's drain): drain, then exit;
  // SIGINT, or a second SIGTERM while draining: close at once.
  let why = await Promise.race([untilStopped(undefined), running.drained.then(() => 'drain')])
  if (why === 'SIGTERM' || why === 'drain') {
    if (why === 'SIGTERM') void running.drain()
    if (workerId === undefined) process.stderr.write(`fleetgate: ${why === 'SIGTERM' ? 'SIGTERM' : 'drain requested'}, draining ${running.fleetgate.sessions.size} sessions at ${config.drainRate}/s (at most ${formatDuration(config.drainTimeout)})\n`)
    const r = await Promise.race([running.drained, untilStopped(undefined)])
    if (typeof r === 'string') why = r
    else process.stderr.write(`fleetgate: ${who}drained (${r.drained} sessions closed at the drain rate, ${r.cut} at once${r.timedOut ? ': --drain-timeout reached' : ''}, ${(r.ms / 1000).toFixed(1)} s)\n`)
  }
  stopReload()
  if (workerId === undefined) process.stderr.write(`fleetgate: ${why === 'drain' || why === 'SIGTERM' ? 'exiting' : why + ', closing'}\n`)
  await running.close().catch(() => {})
  // a worker leaves at once: its IPC channel would keep it alive
  if (workerId !== undefined) process.exit(0)
}
