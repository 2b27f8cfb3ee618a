// What every attack gets: the target, the PKI material the attacker holds,
// the victim and attacker VINs, timing bounds, the victim car (when this run
// started it), the revocation hook, and a per-attack Scope for cleanup.
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { readPemCertificates, readPrivateKey, type ClientTlsPem, type SigningKey } from '../../src/index.js'
import type { PhoneKey } from '../phone.js'
import type { DevPkiPaths, CertKeyPaths } from '../../src/testing.js'
import { connectBackend, type Backend, type CommandOutcome } from '../backend.js'
import type { BrokerAddress } from '../broker-url.js'
import type { CarEvent, RunningCar } from '../car.js'
import { credentialsFromFiles, type ClientCredentials } from '../credentials.js'
import { Inconclusive, SkipAttack } from './not-judged.js'
import { Scope } from './client.js'

export interface VictimCar {
  readonly car: RunningCar
  /** its recent events (bounded) */
  readonly events: CarEvent[]
}

/** Settings of one catalogue run (from the command line). */
export interface RunSettings {
  readonly url: string
  readonly addr: BrokerAddress
  readonly pki: DevPkiPaths
  readonly victimVin: string
  readonly attackerVin: string
  readonly quick: boolean
  /** the broker's --connect-timeout, as the tester knows it (ms) */
  readonly connectTimeoutHintMs: number
  /** the broker's --max-connections-per-ip, as the tester knows it */
  readonly maxConnectionsHint: number
  /** how long to watch for a message that must not arrive (ms) */
  readonly windowMs: number
  /** how long to wait for a car's signed result (ms) */
  readonly resultWaitMs: number
  /** revoke this certificate through the store (absent: no store given, revocation attacks are SKIPPED) */
  readonly revoke?: (certPath: string) => Promise<void>
  /** issue a fresh victim certificate when attack/victim was already revoked by an earlier run */
  readonly freshVictim?: () => Promise<CertKeyPaths>
  /** start a provisioner on the broker's store for the rest of the run (absent: no store given, provisioning attacks are SKIPPED) */
  readonly startProvisioner?: () => Promise<void>
  /** a fresh VIN and its birth certificate from the PKI's manufacturing CA (PEM text) */
  readonly freshBirth?: () => Promise<{ vin: string; cert: string; key: string }>
  readonly victimCar?: VictimCar
  /** the owner key this run paired with the victim car at its start (absent with --no-cars: the key-list attacks are SKIPPED) */
  readonly victimOwner?: PhoneKey
  /** issue n extra vehicle certificates from the PKI's issuing CA (load attacks); absent: those attacks are SKIPPED */
  readonly issueCars?: (n: number) => Promise<FloodCar[]>
}

/** A vehicle certificate made for a load attack. */
export interface FloodCar extends CertKeyPaths { readonly vin: string }

export interface AttackContext extends RunSettings {
  readonly scope: Scope
  /** TLS material of a cert/key pair, trusting the PKI root */
  tls (pair: CertKeyPaths | null): ClientTlsPem
  /** the legit fleet backend's credentials (its key signs commands) */
  backendCredentials (): ClientCredentials
  /** a signer from any cert chain + key files (monitor, rogue vehicle) */
  signer (pair: CertKeyPaths): SigningKey
  /** a backend connection owned by this attack */
  backend (): Promise<Backend>
  /** send a command JWS to the victim car and wait for its verified signed result */
  sendToVictim (jws: string, jti: string): Promise<CommandOutcome>
  /** when this run started the victim car: wait until it is connected (after a takeover attempt, say) */
  victimOnline (timeoutMs?: number): Promise<void>
  /** the victim certificate (attack/victim, or a fresh one when that was revoked earlier) */
  victimCert: CertKeyPaths
  /** revoke victimCert once per run */
  revokeVictim (): Promise<void>
  /** the victim car's owner key now (a transfer attack hands the car to a new one) */
  owner (): PhoneKey
  setOwner (next: PhoneKey): void
  /** n genuine vehicle certificates other than the sample cars (made once per run) */
  floodCars (n: number): Promise<FloodCar[]>
}

const cache = new Map<string, unknown>()
function once<T> (key: string, make: () => T): T {
  if (!cache.has(key)) cache.set(key, make())
  return cache.get(key) as T
}

export function signerFromFiles (pair: CertKeyPaths): SigningKey {
  return { key: readPrivateKey(pair.key), chain: readPemCertificates(pair.cert) }
}

/** The attacker's own genuine vehicle certificate (the car whose key it stole). */
export function attackerPair (ctx: AttackContext): CertKeyPaths {
  const v = ctx.pki.vehicles.find((x) => x.vin === ctx.attackerVin)
  if (!v) throw new Inconclusive(`no certificate for the attacker vehicle ${ctx.attackerVin}`)
  return v
}

/** Shared state of one run: the victim certificate and whether it has been revoked. */
export interface RunState { victimCert: CertKeyPaths; revoked: Promise<void> | null; owner: PhoneKey | undefined }

export function newRunState (settings: RunSettings): RunState {
  return { victimCert: settings.pki.attack.victim, revoked: null, owner: settings.victimOwner }
}

export function attackContext (settings: RunSettings, state: RunState, scope: Scope): AttackContext {
  const ca = once('ca:' + settings.pki.root.cert, () => readFileSync(settings.pki.root.cert, 'utf8'))
  const ctx: AttackContext = {
    ...settings,
    scope,
    tls (pair) {
      if (pair === null) return { ca }
      return once('tls:' + pair.cert, () => ({ ca, cert: readFileSync(pair.cert, 'utf8'), key: readFileSync(pair.key, 'utf8') }))
    },
    backendCredentials: () => once('creds:backend', () => credentialsFromFiles({ ca: settings.pki.root.cert, cert: settings.pki.backend.cert, key: settings.pki.backend.key })),
    signer: (pair) => once('signer:' + pair.cert, () => signerFromFiles(pair)),
    async backend () {
      const b = await connectBackend(settings.url, ctx.backendCredentials(), { connectTimeoutMs: 5000 })
      scope.add(() => b.close())
      return b
    },
    async sendToVictim (jws, jti) {
      await ctx.victimOnline()
      let b: Backend
      try {
        b = await ctx.backend()
      } catch (err) {
        throw new Inconclusive(`the fleet backend could not connect: ${(err as Error).message}`)
      }
      return await b.sendRaw(settings.victimVin, jws, jti, { timeoutMs: settings.resultWaitMs })
    },
    async victimOnline (timeoutMs = 5000) {
      const car = settings.victimCar?.car
      if (!car) return
      const deadline = Date.now() + timeoutMs
      // connected and subscribed again (a takeover attempt may have dropped it)
      while (!(car.client.connected && lastEvent(settings.victimCar!.events)?.evt === 'online')) {
        if (Date.now() > deadline) throw new Inconclusive(`the victim car ${settings.victimVin} is not online`)
        await sleep(50)
      }
    },
    get victimCert () { return state.victimCert },
    set victimCert (v) { state.victimCert = v },
    floodCars (n) {
      if (!settings.issueCars) throw new SkipAttack('no issuing CA key in the PKI directory to make flood cars')
      return once('flood-cars:' + n, () => settings.issueCars!(n))
    },
    owner () {
      if (state.owner === undefined) throw new SkipAttack('needs the victim car started by this run, with the owner key it paired at start (not --no-cars)')
      return state.owner
    },
    setOwner (next) { state.owner = next },
    revokeVictim () {
      if (!settings.revoke) throw new Inconclusive('no revocation store')
      state.revoked ??= settings.revoke(state.victimCert.cert)
      return state.revoked
    },
  }
  return ctx
}

/** the last connection-state event of the car (online/offline/reconnecting) */
function lastEvent (events: readonly CarEvent[]): CarEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!
    if (e.evt === 'online' || e.evt === 'offline' || e.evt === 'reconnecting' || e.evt === 'connecting') return e
  }
  return undefined
}
