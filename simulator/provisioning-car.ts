// A car that provisions itself and rotates (`sim car --birth-cert ... --state-dir`,
// `sim fleet --provision`): the credentials provider runs the birth-certificate
// exchange when the state dir holds no usable operational certificate, and
// keepRotated() requests a new certificate over the car's own connection once
// less than a third of the current one's life is left, then switches to it.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { credentialsFromPem, type ClientCredentials, type CredentialsProvider } from './credentials.js'
import type { RunningCar } from './car.js'
import {
  STATE_CERT, STATE_KEY, ensureOperational, formatProvisioningEvent, rotate, rotationDueAt,
  type OperationalCredentials, type ProvisionOptions, type ProvisioningEvent,
} from './provisioning.js'

export interface ProvisionedCarFiles {
  readonly url: string
  /** the pinned fleet root, PEM file */
  readonly ca: string
  readonly birthCert: string
  readonly birthKey: string
  readonly stateDir: string
  readonly onEvent?: (e: ProvisioningEvent) => void
  readonly timeoutMs?: number
  readonly backoffMinMs?: number
  readonly backoffMaxMs?: number
}

function options (f: ProvisionedCarFiles): ProvisionOptions {
  return {
    url: f.url,
    rootPem: readFileSync(f.ca, 'utf8'),
    birthCertPem: readFileSync(f.birthCert, 'utf8'),
    birthKeyPem: readFileSync(f.birthKey, 'utf8'),
    stateDir: f.stateDir,
    onEvent: f.onEvent,
    timeoutMs: f.timeoutMs,
    backoffMinMs: f.backoffMinMs,
    backoffMaxMs: f.backoffMaxMs,
  }
}

function toCredentials (f: ProvisionedCarFiles, rootPem: string, op: OperationalCredentials): ClientCredentials {
  return credentialsFromPem(rootPem, op.certPem, op.keyPem, { ca: f.ca, cert: join(f.stateDir, STATE_CERT), key: join(f.stateDir, STATE_KEY) })
}

/** the car's credentials: from its state dir, provisioned first with its birth certificate when needed */
export function provisionedCredentials (f: ProvisionedCarFiles, onReady?: (op: OperationalCredentials) => void): CredentialsProvider {
  return async () => {
    const o = options(f)
    const op = await ensureOperational(o)
    onReady?.(op)
    return toCredentials(f, o.rootPem, op)
  }
}

/**
 * Rotate `car` whenever its certificate is due (less than a third of its life
 * left); after expiry (rotation kept failing) provision again with the birth
 * certificate. Returns a function that stops the schedule.
 */
export function keepRotated (car: RunningCar, f: ProvisionedCarFiles, current: OperationalCredentials): () => void {
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let op = current
  const schedule = (atMs: number) => {
    if (stopped) return
    // setTimeout holds at most ~24.8 days: wake up early and look again
    timer = setTimeout(() => { void tick() }, Math.min(Math.max(0, atMs - Date.now()), 2 ** 31 - 1))
    timer.unref()
  }
  const tick = async () => {
    if (stopped) return
    if (Date.now() < rotationDueAt(op.notBefore, op.notAfter)) return schedule(rotationDueAt(op.notBefore, op.notAfter))
    const o = options(f)
    try {
      op = Date.now() >= op.notAfter.getTime()
        ? await ensureOperational(o) // expired: only the birth certificate can help now
        : await rotate(car.client, car.vin, { ...o, maxAttempts: 3 })
      if (!stopped) car.useCredentials(toCredentials(f, o.rootPem, op))
    } catch {
      // rotate reported each failure through onEvent; try again a little later, until expiry
    }
    schedule(Math.min(op.notAfter.getTime(), Date.now() + Math.max(1000, (op.notAfter.getTime() - Date.now()) / 10)))
  }
  schedule(rotationDueAt(op.notBefore, op.notAfter))
  return () => { stopped = true; if (timer) clearTimeout(timer) }
}

/** `sim fleet --provision`: per car, credentials from <stateRoot>/<VIN> (provisioned first) and a rotation schedule */
export function fleetProvisioning (o: { url: string; ca: string; stateRoot: string; verbose: boolean }) {
  const current = new Map<string, OperationalCredentials>()
  const stops: Array<() => void> = []
  const filesOf = (v: { vin: string; birthCert?: string; birthKey?: string }): ProvisionedCarFiles => {
    if (v.birthCert === undefined || v.birthKey === undefined) throw new Error(`car ${v.vin}: no birth certificate in the PKI`)
    return {
      url: o.url, ca: o.ca, birthCert: v.birthCert, birthKey: v.birthKey, stateDir: join(o.stateRoot, v.vin),
      onEvent: o.verbose ? (e) => process.stderr.write(formatProvisioningEvent(e) + '\n') : undefined,
    }
  }
  return {
    credentialsFor: (v: { vin: string; birthCert?: string; birthKey?: string }) => provisionedCredentials(filesOf(v), (op) => current.set(v.vin, op)),
    onCarStarted: (car: RunningCar, v: { vin: string; birthCert?: string; birthKey?: string }) => {
      const op = current.get(v.vin)
      if (op !== undefined) stops.push(keepRotated(car, filesOf(v), op))
    },
    stop: () => { for (const s of stops.splice(0)) s() },
  }
}
