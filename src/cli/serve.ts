// `fleetgate serve`: the ready broker.
import { newCommand, addOptions, untilStopped } from './program.js'
import { SERVE_OPTIONS, resolveConfig, formatDuration, type ConfigInput, type ServeOptionName } from '../config/index.js'
import { startBroker } from '../broker/index.js'
import { policyPath } from '../broker/fleetgate.js'
import { onReloadSignal } from '../reload/index.js'

export function serveCommand () {
  const cmd = newCommand('serve', 'run the mutual-TLS MQTT broker with --ca, --cert and --key, or with --dev on the dev PKI of "fleetgate pki dev" (default: shipped policy, embedded store)')
  addOptions(cmd, Object.keys(SERVE_OPTIONS) as ServeOptionName[])
  cmd.action(async (opts: ConfigInput) => {
    const config = resolveConfig(opts, process.env) // validated once: a bad value stops here
    // With --dev and no --policy, startBroker uses the dev PKI's policy.yaml: the shipped
    // one pinned by this PKI's CA keys (the shipped file pins by name only: the keys are made by `pki dev`).
    const running = await startBroker(config)
    process.stderr.write(`fleetgate: mTLS MQTT on ${config.host}:${running.port}` +
      (running.metrics ? `, admin on ${config.metricsHost}:${running.metrics.port}` : '') +
      (config.dev ? ` (dev PKI in ${config.devPki}, policy ${policyPath(config)}; try: npx fleetgate sim car --help)` : '') + '\n')
    // SIGHUP: reload certificate, key, trust bundle and policy; one line either way.
    const stopReload = onReloadSignal(() => running.reload(), (r) => {
      process.stderr.write(r.ok
        ? `fleetgate: reloaded (roles: ${r.roles.join(', ')}; ${r.kept} sessions kept, ${r.closed} closed: policy_changed)\n`
        : `fleetgate: reload failed, old configuration kept: ${r.error.toLine()}\n`)
    })
    // SIGTERM (or POST /drain on the admin port, "fleetgate drain"): drain, then exit;
    // SIGINT, or a second SIGTERM while draining: close at once.
    let why = await Promise.race([untilStopped(undefined), running.drained.then(() => 'drain')])
    if (why === 'SIGTERM' || why === 'drain') {
      if (why === 'SIGTERM') void running.drain()
      process.stderr.write(`fleetgate: ${why === 'SIGTERM' ? 'SIGTERM' : 'drain requested'}, draining ${running.fleetgate.sessions.size} sessions at ${config.drainRate}/s (at most ${formatDuration(config.drainTimeout)})\n`)
      const r = await Promise.race([running.drained, untilStopped(undefined)])
      if (typeof r === 'string') why = r
      else process.stderr.write(`fleetgate: drained (${r.drained} sessions closed at the drain rate, ${r.cut} at once${r.timedOut ? ': --drain-timeout reached' : ''}, ${(r.ms / 1000).toFixed(1)} s)\n`)
    }
    stopReload()
    process.stderr.write(`fleetgate: ${why === 'drain' || why === 'SIGTERM' ? 'exiting' : why + ', closing'}\n`)
    await running.close().catch(() => {})
  })
  return cmd
}
