// `fleetgate sim fleet`: N simulated cars at once, each a full car
// (simulator/car.ts: status, telemetry, verified commands, signed results).
// Connects are spread over a bounded number of slots; the fleet counts what
// its cars did and gives a summary when stopped.
import type { CommandReason } from '../src/index.js'
import { startCar, type CarEvent, type RunningCar } from './car.js'
import { credentialsFromFiles, type CredentialsProvider } from './credentials.js'

export interface FleetVehicle {
  readonly vin: string
  /** PEM chain (leaf + issuing CA) and key of its operational certificate */
  readonly cert: string
  readonly key: string
  /** birth certificate files (for a provisioning hook) */
  readonly birthCert?: string
  readonly birthKey?: string
}

export interface FleetOptions {
  readonly url: string
  /** the fleet root the cars pin */
  readonly rootCert: string
  readonly vehicles: readonly FleetVehicle[]
  readonly telemetryIntervalMs?: number
  /** cars connecting at the same time (default 20) */
  readonly concurrency?: number
  /** how long one car may take to come online before its slot goes to the next (default 10 s) */
  readonly connectWaitMs?: number
  /**
   * Where a car's credentials come from. Default: its certificate files.
   * The hook for `--provision` (cars that start from birth certificates).
   */
  readonly credentialsFor?: (vehicle: FleetVehicle) => CredentialsProvider
  /** called with each car once started (`--provision` attaches its rotation schedule here) */
  readonly onCarStarted?: (car: RunningCar, vehicle: FleetVehicle) => void
  /** cars online so far, of the total (while connecting) */
  readonly onProgress?: (online: number, total: number) => void
  readonly onEvent?: (event: CarEvent) => void
}

export interface FleetSummary {
  readonly vehicles: number
  /** cars that came online at least once */
  readonly connected: number
  /** cars online at the moment of the summary */
  readonly online: number
  /** telemetry messages published (3 streams per tick) */
  readonly telemetrySent: number
  readonly commandsExecuted: number
  readonly commandsRejected: Readonly<Partial<Record<CommandReason, number>>>
  /** times a car came back online after losing its connection */
  readonly reconnects: number
  readonly errors: number
  readonly durationMs: number
}

export interface RunningFleet {
  readonly cars: readonly RunningCar[]
  /** resolves when every car has had its connect slot (online or not) */
  readonly started: Promise<void>
  summary (): FleetSummary
  stop (): Promise<FleetSummary>
}

interface Counters {
  onlineOnce: Set<string>
  telemetry: number
  executed: number
  rejected: Partial<Record<CommandReason, number>>
  reconnects: number
  errors: number
}

export function startFleet (opts: FleetOptions): RunningFleet {
  const t0 = Date.now()
  const total = opts.vehicles.length
  const c: Counters = { onlineOnce: new Set(), telemetry: 0, executed: 0, rejected: {}, reconnects: 0, errors: 0 }
  const cars: RunningCar[] = []
  const waiters = new Map<string, () => void>()
  let stopping = false

  const onEvent = (e: CarEvent) => {
    switch (e.evt) {
      case 'online':
        if (c.onlineOnce.has(e.vin)) c.reconnects++
        else { c.onlineOnce.add(e.vin); opts.onProgress?.(c.onlineOnce.size, total) }
        waiters.get(e.vin)?.()
        break
      case 'telemetry': c.telemetry += 3; break
      case 'command':
        if (e.status === 'executed') c.executed++
        else if (e.reason) c.rejected[e.reason] = (c.rejected[e.reason] ?? 0) + 1
        break
      case 'error': c.errors++; break
      default: break
    }
    opts.onEvent?.(e)
  }

  const credentialsFor = opts.credentialsFor ?? ((v: FleetVehicle) => async () => credentialsFromFiles({ ca: opts.rootCert, cert: v.cert, key: v.key }))
  const waitMs = opts.connectWaitMs ?? 10_000
  const queue = [...opts.vehicles]

  async function slot (): Promise<void> {
    for (let v = queue.shift(); v !== undefined && !stopping; v = queue.shift()) {
      const vehicle = v
      const online = new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs)
        waiters.set(vehicle.vin, () => { clearTimeout(t); resolve() })
      })
      try {
        const car = await startCar({ url: opts.url, credentials: credentialsFor(vehicle), telemetryIntervalMs: opts.telemetryIntervalMs, onEvent })
        cars.push(car)
        opts.onCarStarted?.(car, vehicle)
        await online
      } catch (err) {
        onEvent({ evt: 'error', vin: vehicle.vin, message: (err as Error).message })
      } finally {
        waiters.delete(vehicle.vin)
      }
    }
  }
  const started = Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 20, total)) }, slot)).then(() => {})

  const summary = (): FleetSummary => ({
    vehicles: total,
    connected: c.onlineOnce.size,
    online: cars.filter((car) => car.client.connected).length,
    telemetrySent: c.telemetry,
    commandsExecuted: c.executed,
    commandsRejected: { ...c.rejected },
    reconnects: c.reconnects,
    errors: c.errors,
    durationMs: Date.now() - t0,
  })

  let stopped: Promise<FleetSummary> | undefined
  return {
    cars,
    started,
    summary,
    stop () {
      stopped ??= (async () => {
        stopping = true
        for (const resolve of waiters.values()) resolve()
        const s = summary()
        await Promise.all(cars.map((car) => car.stop()))
        return s
      })()
      return stopped
    },
  }
}

/** The summary as readable lines. */
export function formatFleetSummary (s: FleetSummary): string {
  const rejected = Object.entries(s.commandsRejected).map(([r, n]) => `${r} ${n}`).join(', ')
  return [
    `fleet summary after ${(s.durationMs / 1000).toFixed(1)} s:`,
    `  cars connected:    ${s.connected}/${s.vehicles} (${s.online} online at stop)`,
    `  telemetry sent:    ${s.telemetrySent} messages`,
    `  commands executed: ${s.commandsExecuted}`,
    `  commands rejected: ${rejected === '' ? 0 : rejected}`,
    `  reconnects:        ${s.reconnects}`,
    `  errors:            ${s.errors}`,
  ].join('\n') + '\n'
}
