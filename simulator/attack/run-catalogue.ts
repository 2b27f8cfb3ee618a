// One catalogue run: load the PKI, start the victim car (unless cars already
// run), check that a genuine car can connect at all, run the attacks, stop
// the car, add the broker's reasons from its audit log, build the report.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createAuditLogger, fgError, generateKey, DEFAULT_RATE_LIMIT, startProvisioner, type RunningProvisioner, type StoreChoice } from '../../src/index.js'
import { loadPki, loadCa, issueLeaf, randomVin, randomVins, type CertKeyPaths, type DevPkiPaths } from '../../src/testing.js'
import { parseBrokerUrl } from '../broker-url.js'
import { startCar, type CarEvent } from '../car.js'
import { credentialsFromFiles } from '../credentials.js'
import type { FloodCar, RunSettings, VictimCar } from './context.js'
import { Scope, attempt, describeOutcome } from './client.js'
import { readAuditLog } from './audit-log.js'
import { exitCodeOf, runAttacks, totals, withAuditReasons, withObservedReasons, type RunHooks } from './runner.js'
import { type Attack, type CatalogueReport } from './types.js'
import { Inconclusive } from './not-judged.js'
import { phoneKeyOf, type PhoneKey } from '../phone.js'

export interface CatalogueOptions {
  readonly url: string
  readonly pkiDir: string
  readonly attacks: readonly Attack[]
  readonly quick: boolean
  /** cars already run (the victim car must be online); this run starts none */
  readonly noCars: boolean
  readonly connectTimeoutHintMs: number
  readonly maxConnectionsHint: number
  readonly revoke?: (certPath: string) => Promise<void>
  /** where revocations are written (for the report's notes) */
  readonly storeWhere?: string
  /** the broker's store: the provisioning attacks run their own provisioner on it (absent: they are SKIPPED) */
  readonly store?: StoreChoice
  readonly auditLog?: string
  readonly hooks?: RunHooks
  /** progress lines (victim car, preflight) */
  readonly onLine?: (line: string) => void
}

/** Thrown when the catalogue cannot start at all (broker unreachable, genuine certificate refused). */
export class CatalogueNotStarted extends Error {}

const MAX_EVENTS = 500

async function startVictimCar (url: string, rootCert: string, pair: CertKeyPaths, quick: boolean, owner: PhoneKey): Promise<VictimCar> {
  const events: CarEvent[] = []
  const car = await startCar({
    // its first owner, enrolled by the in-car step: the key-list attacks act as this owner
    localKeySteps: [{ step: 'pair', jwk: owner.jwk, label: 'catalogue owner' }],
    url,
    credentials: async () => credentialsFromFiles({ ca: rootCert, cert: pair.cert, key: pair.key }),
    telemetryIntervalMs: quick ? 1000 : 2000,
    reconnectMinMs: 200,
    reconnectMaxMs: 2000,
    onEvent: (e) => {
      if (e.evt === 'telemetry') return
      events.push(e)
      if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS)
    },
  })
  return { car, events }
}

/** n vehicle certificates with random VINs from the PKI's issuing CA, in one temp directory */
async function issueCars (pkiDir: string, n: number): Promise<FloodCar[]> {
  const ca = await loadCa(pkiDir, 'issuing')
  const dir = mkdtempSync(join(tmpdir(), 'fg-attack-cars-'))
  const cars: FloodCar[] = []
  for (const vin of randomVins(n)) {
    const leaf = await issueLeaf(ca, 'vehicle', vin)
    const paths = { vin, cert: join(dir, `${vin}.pem`), key: join(dir, `${vin}.key`) }
    writeFileSync(paths.cert, leaf.chainPem)
    writeFileSync(paths.key, leaf.keyPem!, { mode: 0o600 })
    cars.push(paths)
  }
  return cars
}

async function freshVictim (pkiDir: string, vin: string): Promise<CertKeyPaths> {
  const ca = await loadCa(pkiDir, 'issuing')
  const leaf = await issueLeaf(ca, 'vehicle', vin)
  const dir = mkdtempSync(join(tmpdir(), 'fg-attack-victim-'))
  const paths = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }
  writeFileSync(paths.cert, leaf.chainPem)
  writeFileSync(paths.key, leaf.keyPem!, { mode: 0o600 })
  return paths
}

/** a fresh VIN and its birth certificate, from the PKI's manufacturing CA */
async function freshBirth (pkiDir: string): Promise<{ vin: string; cert: string; key: string }> {
  const vin = randomVin()
  const leaf = await issueLeaf(await loadCa(pkiDir, 'manufacturing'), 'factory', vin)
  return { vin, cert: leaf.chainPem, key: leaf.keyPem! }
}

/** the run's own provisioner: the PKI's provisioner certificate and issuing CA, a clean session, its own clientId */
async function runProvisioner (url: string, paths: DevPkiPaths, store: StoreChoice): Promise<RunningProvisioner> {
  return await startProvisioner({
    url, ca: paths.root.cert, cert: paths.provisioner.cert, key: paths.provisioner.key,
    issuerCert: paths.issuing.cert, issuerKey: paths.issuing.key,
    redis: store.redis, redisPrefix: store.redisPrefix, dataDir: store.dataDir, revocationTimeout: store.revocationTimeout,
    lifetimeMs: 3_600_000, graceMs: 3_600_000, rateLimit: DEFAULT_RATE_LIMIT,
    clientIdSuffix: 'sim-attack', cleanSession: true, log: createAuditLogger({ level: 'silent' }),
  })
}

export async function runCatalogue (opts: CatalogueOptions): Promise<{ report: CatalogueReport; exitCode: number }> {
  const addr = parseBrokerUrl(opts.url)
  const pki = loadPki(opts.pkiDir)
  const vins = pki.manifest.vins
  if (vins.length < 2) throw fgError('FG_ERR_PKI_INVALID', `--pki ${opts.pkiDir}: needs at least 2 sample vehicles (attacker and victim); make one with \`fleetgate pki init --vehicles 3\``)
  const attackerVin = vins[0]!
  const victimVin = vins[1]!
  const line = opts.onLine ?? (() => {})
  const startedAt = new Date()

  // preflight: a genuine car must get in, or nothing below means anything
  const pre = new Scope()
  try {
    const attacker = pki.paths.vehicles[0]!
    const o = await attempt(pre, addr, { ca: readFileSync(pki.paths.root.cert, 'utf8'), cert: readFileSync(attacker.cert, 'utf8'), key: readFileSync(attacker.key, 'utf8') }, { clientId: attackerVin })
    if (o.kind !== 'connected') throw new CatalogueNotStarted(`a genuine car certificate (${attackerVin}) is not accepted by ${opts.url}: ${describeOutcome(o)}; is the broker running with this PKI's root (--ca ${pki.paths.root.cert})?`)
  } finally {
    await pre.closeAll()
  }

  let victimCar: VictimCar | undefined
  let victimOwner: PhoneKey | undefined
  if (!opts.noCars) {
    line(`starting the victim car ${victimVin}`)
    victimOwner = await phoneKeyOf(generateKey())
    victimCar = await startVictimCar(opts.url, pki.paths.root.cert, pki.paths.vehicles[1]!, opts.quick, victimOwner)
    const online = await Promise.race([victimCar.car.online.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))])
    if (!online) {
      await victimCar.car.stop()
      throw new CatalogueNotStarted(`the victim car ${victimVin} did not come online within 10 s`)
    }
  }

  const store = opts.store
  let provisioner: Promise<RunningProvisioner> | undefined
  const settings: RunSettings = {
    url: opts.url, addr, pki: pki.paths, victimVin, attackerVin, quick: opts.quick,
    connectTimeoutHintMs: opts.connectTimeoutHintMs,
    maxConnectionsHint: opts.maxConnectionsHint,
    windowMs: opts.quick ? 400 : 1500,
    resultWaitMs: opts.quick ? 4000 : 10_000,
    revoke: opts.revoke,
    freshVictim: () => freshVictim(opts.pkiDir, attackerVin),
    startProvisioner: store === undefined
      ? undefined
      : async () => {
        provisioner ??= runProvisioner(opts.url, pki.paths, store)
        try {
          await provisioner
        } catch (err) {
          throw new Inconclusive(`the run's provisioner did not start: ${(err as Error).message}`)
        }
      },
    freshBirth: () => freshBirth(opts.pkiDir),
    issueCars: (n) => issueCars(opts.pkiDir, n),
    victimCar,
    victimOwner,
  }
  let results
  try {
    results = await runAttacks(opts.attacks, settings, opts.hooks)
  } finally {
    await victimCar?.car.stop()
    await provisioner?.then((p) => p.close(), () => {})
  }
  const finished = Date.now()
  if (opts.auditLog !== undefined) {
    // the broker writes its log asynchronously: give the last lines a moment
    await sleep(500)
    results = withAuditReasons(results, readAuditLog(opts.auditLog), finished + 500)
  }
  results = withObservedReasons(results)

  const notes: string[] = [
    'Signed-command attacks are decided by the car, which verifies every command itself: they pass against any broker. ' +
    'That is the point of signed commands: a broker that lets a forged command through still cannot drive a car.',
  ]
  if (opts.auditLog === undefined) notes.push('No --audit-log given: the broker does not tell a client why it refused it, so "reason seen" shows the client\'s observation (CONNACK 5, SUBACK 0x80, a close).')
  const revocationRan = results.some((r) => r.family === 'revocation')
  if (revocationRan && !opts.revoke) notes.push('No revocation store given (--redis or --data-dir): the revocation attacks were SKIPPED.')
  if (results.some((r) => r.family === 'provisioning') && store !== undefined) notes.push(`The provisioning attacks ran their own provisioner (clientId <CN>-sim-attack) on ${opts.storeWhere ?? 'the store'}, with fresh VINs and birth certificates from the PKI's manufacturing CA.`)
  if (revocationRan && opts.revoke) notes.push(`The victim certificate (CN ${attackerVin}) was revoked in ${opts.storeWhere ?? 'the store'}, for good; a later run issues a fresh one from the PKI's issuing CA.`)
  if (opts.noCars) notes.push(`--no-cars: the victim car ${victimVin} was expected to be running already.`)
  const report: CatalogueReport = {
    tool: 'fleetgate sim attack',
    version: 1,
    target: opts.url,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date(finished).toISOString(),
    quick: opts.quick,
    ...(opts.auditLog !== undefined ? { auditLog: opts.auditLog } : {}),
    victimVin,
    attackerVin,
    carsStarted: !opts.noCars,
    totals: totals(results),
    results,
    notes,
  }
  return { report, exitCode: exitCodeOf(report) }
}
