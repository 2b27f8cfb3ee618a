// `fleetgate sim`: the bundled simulator. One subcommand per file or builder;
// SIM_SUBCOMMANDS is the list (fleet and attack are added beside car and backend).
// A client of fleetgate's command line (fleetgate/cli): bin/fleetgate.js adds
// simCommand to the program, so the library never imports the simulator.
import { mkdirSync } from 'node:fs'
import type { Command } from 'commander'
import { durationFlag, newCommand, ExitCode, requireFlags, untilStopped } from '../../src/cli/index.js'
import { fgError, isFleetgateError, isSafeIdentityValue, readFlagFile, KEY_ROLES, type KeyRole } from '../../src/index.js'
import { telemetryIntervalFlag } from './flags.js'
import { simAttackCommand } from './attack.js'
import { simFleetCommand } from './fleet.js'
import {
  startCar, connectBackend, credentialsFromFiles, formatCarEvent, jsonLine, safe, type CarEvent,
} from '../index.js'
import { formatProvisioningEvent, type OperationalCredentials, type ProvisioningEvent } from '../provisioning.js'
import { keepRotated, provisionedCredentials } from '../provisioning-car.js'
import { publicJwkFromPem, type LocalKeyStep } from '../car-keys.js'
import { simBackendKeysCommand, simPhoneCommand, simScrapCommand } from './keys.js'

interface CarKeyFlags { pair?: string; pairLabel: string; transferTo?: string; backendRole: string }

/** --pair / --transfer-to / --backend-role of sim car: the in-car key steps and the car's policy for the backend entry */
function carKeyOptions (opts: CarKeyFlags & { stateDir?: string }): { localKeySteps: LocalKeyStep[]; backendRole: KeyRole } {
  if (!(KEY_ROLES as readonly string[]).includes(opts.backendRole)) {
    throw fgError('FG_ERR_CONFIG_INVALID', `--backend-role ${JSON.stringify(opts.backendRole)}: must be one of ${KEY_ROLES.join(', ')}`)
  }
  if (opts.pair !== undefined && opts.transferTo !== undefined) throw fgError('FG_ERR_USAGE', '--pair and --transfer-to: give one or the other')
  const steps: LocalKeyStep[] = []
  if (opts.transferTo !== undefined) {
    steps.push({ step: 'transfer', jwk: publicJwkFromPem(readFlagFile(opts.transferTo, '--transfer-to'), `--transfer-to ${opts.transferTo}`), label: opts.pairLabel })
  }
  if (opts.pair !== undefined) steps.push({ step: 'pair', jwk: publicJwkFromPem(readFlagFile(opts.pair, '--pair'), `--pair ${opts.pair}`), label: opts.pairLabel })
  return { localKeySteps: steps, backendRole: opts.backendRole as KeyRole }
}

export function simCarCommand (): Command {
  return newCommand('car', 'one simulated car (identity from its certificate) until stopped')
    .option('--url <url>', 'broker, mqtts://host:port')
    .option('--ca <file>', 'PEM fleet root CA the car pins')
    .option('--cert <file>', 'PEM chain: the car certificate + issuing CA')
    .option('--key <file>', 'PEM private key of the car')
    .option('--birth-cert <file>', 'PEM chain: the car\'s birth certificate + manufacturing CA (provisions itself when --state-dir holds no operational certificate)')
    .option('--birth-key <file>', 'PEM private key of the birth certificate')
    .option('--state-dir <dir>', 'where the car keeps its replay memory and its key list (keys.json) across restarts, and with --birth-cert its own key and operational certificate (without it: commands issued before the car started are refused as replayed, and the key list is forgotten at exit)')
    .option('--pair <file>', 'PEM public key (P-256) enrolled as an owner key at start: stands for tapping a key card in the car')
    .option('--transfer-to <file>', 'PEM public key of a new owner: at start, every key but the fleet backend\'s entry is cleared and this one enrolled as owner (a sale whose previous owner is gone)')
    .option('--pair-label <text>', 'label of the key given by --pair or --transfer-to', 'owner')
    .option('--backend-role <role>', `the role this car gives the fleet backend's certificate entry (${KEY_ROLES.join(', ')})`, 'fleet-manager')
    .option('--json', 'one JSON line per event')
    .option('--telemetry-interval <duration>', 'telemetry period (0: none)', '5s')
    .action(async (opts: CarKeyFlags & { url?: string; ca?: string; cert?: string; key?: string; birthCert?: string; birthKey?: string; stateDir?: string; json?: boolean; telemetryInterval: string }) => {
      if (opts.birthCert !== undefined) return await runProvisionedCar(opts)
      requireFlags(opts, ['url', 'ca', 'cert', 'key'])
      const interval = telemetryIntervalFlag(opts.telemetryInterval)
      const creds = credentialsFromFiles({ ca: opts.ca!, cert: opts.cert!, key: opts.key! })
      if (creds.ou !== 'vehicle') throw fgError('FG_ERR_PKI_INVALID', `--cert ${opts.cert}: not a vehicle certificate (OU=${creds.ou ?? 'none'})`)
      const print = opts.json === true
        ? (e: CarEvent) => process.stdout.write(jsonLine(e) + '\n')
        : (e: CarEvent) => process.stdout.write(formatCarEvent(e) + '\n')
      const keys = carKeyOptions(opts)
      if (opts.stateDir !== undefined) mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 })
      const car = await startCar({ url: opts.url!, credentials: async () => creds, telemetryIntervalMs: interval, onEvent: print, stateDir: opts.stateDir, ...keys })
      await untilStopped(undefined)
      await car.stop()
    })
}

/** `sim car --birth-cert --birth-key --state-dir`: provision first, rotate when due (../provisioning-car.ts) */
async function runProvisionedCar (opts: CarKeyFlags & { url?: string; ca?: string; birthCert?: string; birthKey?: string; stateDir?: string; json?: boolean; telemetryInterval: string }): Promise<void> {
  requireFlags(opts, ['url', 'ca', 'birthCert', 'birthKey', 'stateDir'])
  const interval = telemetryIntervalFlag(opts.telemetryInterval)
  const keys = carKeyOptions(opts)
  const line = (e: object, text: string) => process.stdout.write((opts.json === true ? jsonLine(e) : text) + '\n')
  const files = {
    url: opts.url!, ca: opts.ca!, birthCert: opts.birthCert!, birthKey: opts.birthKey!, stateDir: opts.stateDir!,
    onEvent: (e: ProvisioningEvent) => line(e, formatProvisioningEvent(e)),
  }
  let current: OperationalCredentials | undefined
  const car = await startCar({
    url: opts.url!, credentials: provisionedCredentials(files, (op) => { current = op }), telemetryIntervalMs: interval,
    onEvent: (e: CarEvent) => line(e, formatCarEvent(e)), stateDir: opts.stateDir, ...keys,
  })
  const stopRotation = keepRotated(car, files, current!)
  await untilStopped(undefined)
  stopRotation()
  await car.stop()
}

export function simBackendCommand (): Command {
  const backend = newCommand('backend', 'send one signed command, wait for the car\'s signed result; exit 0 only if executed (`backend keys`: a car\'s key list as the fleet last saw it)')
  // options after `keys` are the subcommand's own (backend has the same names)
  backend.enablePositionalOptions().addCommand(simBackendKeysCommand())
  return backend
    .option('--url <url>', 'broker, mqtts://host:port')
    .option('--ca <file>', 'PEM fleet root CA')
    .option('--cert <file>', 'PEM chain: the backend certificate + issuing CA (its key signs the command)')
    .option('--key <file>', 'PEM private key of the backend')
    .option('--vin <vin>', 'target vehicle')
    .option('--cmd <name>', 'lock, unlock, honk, flash_lights, climate_on, climate_off, remote_start, set_charge_limit, diagnostics')
    .option('--args <json>', 'command arguments as a JSON object, e.g. {"percent":80}', '{}')
    .option('--ttl <duration>', 'command lifetime (exp - iat)', '30s')
    .option('--timeout <duration>', 'how long to wait for the result', '10s')
    .option('--json', 'print the outcome as one JSON line')
    .action(async (opts: { url?: string; ca?: string; cert?: string; key?: string; vin?: string; cmd?: string; args: string; ttl: string; timeout: string; json?: boolean }) => {
      requireFlags(opts, ['url', 'ca', 'cert', 'key', 'vin', 'cmd'])
      if (!isSafeIdentityValue(opts.vin!)) throw fgError('FG_ERR_CONFIG_INVALID', `--vin ${JSON.stringify(opts.vin)}: holds + # / or a control character`)
      let args: unknown
      try { args = JSON.parse(opts.args) } catch { throw fgError('FG_ERR_CONFIG_INVALID', `--args: not valid JSON`) }
      if (typeof args !== 'object' || args === null || Array.isArray(args)) throw fgError('FG_ERR_CONFIG_INVALID', '--args: must be a JSON object')
      const ttl = durationFlag('--ttl', opts.ttl, 'not a duration')
      const timeout = durationFlag('--timeout', opts.timeout, 'not a positive duration', (ms) => ms > 0)
      const creds = credentialsFromFiles({ ca: opts.ca!, cert: opts.cert!, key: opts.key! })
      let backend
      try {
        backend = await connectBackend(opts.url!, creds)
      } catch (err) {
        if (isFleetgateError(err)) throw err
        process.stderr.write(`not connected to ${opts.url}: ${safe((err as Error).message, 200)}\n`)
        throw new ExitCode(1)
      }
      try {
        const vin = opts.vin!
        const cmd = opts.cmd!
        let out
        try {
          out = await backend.send({ vin, cmd, args: args as Record<string, unknown>, ttlMs: ttl }, { timeoutMs: timeout })
        } catch (err) {
          // e.g. SUBACK 0x80: this certificate may not read command results (a monitor)
          process.stderr.write(`${safe(cmd)} to ${vin} not sent: ${safe((err as Error).message, 200)}\n`)
          throw new ExitCode(1)
        }
        const ms = Math.round(out.rttMs)
        if (opts.json === true) {
          const base = { evt: 'result', vin, cmd, jti: out.jti, rttMs: Math.round(out.rttMs * 100) / 100 }
          process.stdout.write(jsonLine(out.kind === 'result' ? { ...base, status: out.result.status, reason: out.result.reason } : { ...base, status: out.kind }) + '\n')
        } else if (out.kind === 'result') {
          process.stdout.write(out.result.status === 'executed'
            ? `executed ${safe(cmd)} for ${vin} in ${ms} ms\n`
            : `rejected ${safe(cmd)} for ${vin}: ${safe(out.result.reason)} (in ${ms} ms)\n`)
        } else if (out.kind === 'closed') {
          process.stdout.write(`no result for ${safe(cmd)} to ${vin}: the broker closed the connection (command refused at the edge?)\n`)
        } else {
          process.stdout.write(`no signed result for ${safe(cmd)} to ${vin} within ${timeout} ms` +
            (out.ignored > 0 ? ` (${out.ignored} unverifiable results ignored: ${safe(out.lastProblem, 120)})` : '') + '\n')
        }
        if (out.kind !== 'result' || out.result.status !== 'executed') throw new ExitCode(1)
      } finally {
        await backend.close()
      }
    })
}

/** The subcommands of `fleetgate sim`, in help order. */
export const SIM_SUBCOMMANDS: ReadonlyArray<() => Command> = [simCarCommand, simBackendCommand, simPhoneCommand, simScrapCommand, simFleetCommand, simAttackCommand]

export function simCommand (): Command {
  // positional options all the way down: `sim backend keys --url` is the keys subcommand's --url
  const sim = newCommand('sim', 'the bundled simulator: cars, a fleet backend, phones').enablePositionalOptions()
  for (const make of SIM_SUBCOMMANDS) sim.addCommand(make())
  return sim
}
