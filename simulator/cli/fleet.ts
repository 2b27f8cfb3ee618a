// `fleetgate sim fleet`: N simulated cars from a PKI directory until stopped
// (SIGINT/SIGTERM or --duration), with progress while they connect and a
// summary at the end. N may not exceed the PKI's vehicles: make a PKI with
// more (`fleetgate pki init --vehicles N`) rather than certificates on the fly.
import { join } from 'node:path'
import type { Command } from 'commander'
import { countFlag, durationFlag, newCommand, progressPrinter, requireFlags, untilStopped } from '../../src/cli/index.js'
import { fgError } from '../../src/index.js'
import { loadPki, MAX_DEV_VEHICLES } from '../../src/testing.js'
import { telemetryIntervalFlag } from './flags.js'
import { formatFleetSummary, startFleet, type FleetVehicle } from '../fleet.js'
import { formatCarEvent, jsonLine } from '../index.js'
import { fleetProvisioning } from '../provisioning-car.js'

interface FleetFlags { url?: string; pki?: string; vehicles?: string; json?: boolean; duration?: string; telemetryInterval: string; concurrency: string; verbose?: boolean; provision?: boolean; stateDir?: string }

export function simFleetCommand (): Command {
  return newCommand('fleet', 'N simulated cars from a PKI directory until stopped; a summary at the end')
    .option('--url <url>', 'broker, mqtts://host:port')
    .option('--pki <dir>', 'dev PKI directory (fleetgate pki init --vehicles N): the cars are its sample vehicles')
    .option('--vehicles <n>', 'how many cars (at most the PKI\'s vehicles)')
    .option('--duration <duration>', 'stop after this long (default: until SIGINT/SIGTERM)')
    .option('--telemetry-interval <duration>', 'telemetry period of each car (0: none)', '5s')
    .option('--concurrency <n>', 'cars connecting at the same time', '20')
    .option('--verbose', 'one line per car event on stderr')
    .option('--provision', 'cars start from their birth certificates, provision themselves and rotate when due')
    .option('--state-dir <dir>', 'with --provision: where each car keeps its key and certificate (<dir>/<VIN>; default <pki>/fleet-state)')
    .option('--json', 'print the summary as one JSON line')
    .action(async (flags: FleetFlags) => {
      requireFlags(flags, ['url', 'pki', 'vehicles'])
      const n = countFlag('--vehicles', flags.vehicles!, MAX_DEV_VEHICLES, `an integer from 1 to ${MAX_DEV_VEHICLES}`)
      const concurrency = countFlag('--concurrency', flags.concurrency, 1000, 'an integer from 1 to 1000')
      const interval = telemetryIntervalFlag(flags.telemetryInterval)
      const duration = flags.duration === undefined ? undefined : durationFlag('--duration', flags.duration, 'not a positive duration', (ms) => ms > 0)
      const pki = loadPki(flags.pki!)
      const have = pki.paths.vehicles.length
      if (n > have) throw fgError('FG_ERR_CONFIG_INVALID', `--vehicles ${n}: the PKI in ${flags.pki} holds ${have} vehicles; make one with more: fleetgate pki init --vehicles ${n} --out <dir>`)
      const vehicles: FleetVehicle[] = pki.paths.vehicles.slice(0, n).map((v) => ({ vin: v.vin, cert: v.cert, key: v.key, birthCert: v.birthCert, birthKey: v.birthKey }))
      const progress = progressPrinter('cars online')
      process.stderr.write(`sim fleet: starting ${n} cars against ${flags.url}\n`)
      const provisioning = flags.provision === true
        ? fleetProvisioning({ url: flags.url!, ca: pki.paths.root.cert, stateRoot: flags.stateDir ?? join(flags.pki!, 'fleet-state'), verbose: flags.verbose === true })
        : undefined
      const fleet = startFleet({
        url: flags.url!, rootCert: pki.paths.root.cert, vehicles, telemetryIntervalMs: interval, concurrency,
        ...(provisioning === undefined ? {} : { credentialsFor: provisioning.credentialsFor, onCarStarted: provisioning.onCarStarted }),
        onProgress: (online, total) => progress(online, total),
        onEvent: flags.verbose === true ? (e) => process.stderr.write(formatCarEvent(e) + '\n') : undefined,
      })
      const why = await untilStopped(duration)
      process.stderr.write(`sim fleet: ${why}, stopping ${fleet.cars.length} cars\n`)
      provisioning?.stop()
      const summary = await fleet.stop()
      process.stdout.write(flags.json === true ? jsonLine({ evt: 'summary', ...summary }) + '\n' : formatFleetSummary(summary))
    })
}
