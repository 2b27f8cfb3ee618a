// One simulated car (`fleetgate sim car`): connects with its certificate
// (clientId = its CN, the VIN), keeps a retained online/offline status (also
// its LWT), sends telemetry, and acts only on fresh, authentic commands meant
// for it (src/commands verifyCommand), answering each with a result signed by
// its own key. It keeps its key list (car-keys.ts: who may command it, with
// which role) and publishes it, signed and retained, whenever it changes.
// Everything from the network is bounded and caught: no payload can stop it.
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt, { type MqttClient } from 'mqtt'
import {
  MAX_JWS_BYTES, mqttsOptions, verifyCommand, signResult, signKeyRecord, keyListView, DEFAULT_BACKEND_ROLE,
  type CommandPolicy, type CommandReason, type CommandDecision, type KeyChange, type KeyRole,
} from '../src/index.js'
import { applyLocalStep, openKeyStore, type LocalKeyStep } from './car-keys.js'
import { parseBrokerUrl } from './broker-url.js'
import type { ClientCredentials, CredentialsProvider } from './credentials.js'
import { apply, initialState, tick, type CarState } from './car-state.js'
import { openReplayMemory } from './replay-memory.js'
import { vehicleTopics } from './topics.js'
import { noDelay } from './no-delay.js'

export type CarEvent =
  | { evt: 'connecting'; vin: string; url: string }
  | { evt: 'online'; vin: string }
  | { evt: 'offline'; vin: string }
  | { evt: 'reconnecting'; vin: string; inMs: number }
  | { evt: 'command'; vin: string; jti: string | null; cmd: string | null; status: 'executed' | 'rejected'; reason?: CommandReason; detail?: string; effect?: string; signer?: string; by?: string; role?: string; answered: boolean }
  /** the key list changed (a key command, or an in-car step at start) */
  | { evt: 'keys'; vin: string; seq: number; change: KeyChange; keys: number }
  | { evt: 'telemetry'; vin: string; speed: number; battery: number }
  | { evt: 'error'; vin: string; message: string }
  | { evt: 'stopped'; vin: string }

export interface CarOptions {
  /** mqtts://host:port */
  readonly url: string
  /** the operational certificate; a provisioning step may run inside it before the connect */
  readonly credentials: CredentialsProvider
  /** telemetry period in ms (default 5 s; 0: none) */
  readonly telemetryIntervalMs?: number
  /** skew, maximum lifetime, the signer role table */
  readonly policy?: CommandPolicy
  readonly replayCapacity?: number
  /** where the car keeps its replay memory (replay.json) and its key list (keys.json) across restarts; absent: it refuses commands issued before it started, and forgets its keys */
  readonly stateDir?: string
  /** the role the car's policy gives the fleet backend's entry (default fleet-manager) */
  readonly backendRole?: KeyRole
  /** in-car steps done before it connects (a key card tapped: pair; a sale: transfer; a scrapping: wipe) */
  readonly localKeySteps?: readonly LocalKeyStep[]
  readonly now?: () => number
  readonly onEvent?: (event: CarEvent) => void
  /** reconnect backoff: first wait and cap, ms (default 500 ms .. 30 s) */
  readonly reconnectMinMs?: number
  readonly reconnectMaxMs?: number
}

export interface RunningCar {
  readonly vin: string
  readonly state: Readonly<CarState>
  readonly client: MqttClient
  /** resolves at the first CONNACK */
  readonly online: Promise<void>
  /** publish status offline itself, then disconnect cleanly */
  stop (): Promise<void>
  /** switch to new credentials (a rotation, simulator/provisioning-car.ts): clean disconnect, reconnect with them */
  useCredentials (next: ClientCredentials): void
}

const ONLINE = JSON.stringify({ v: 1, state: 'online' })
const OFFLINE = JSON.stringify({ v: 1, state: 'offline' })

export async function startCar (opts: CarOptions): Promise<RunningCar> {
  // `let`: a rotation swaps them (useCredentials); the VIN never changes
  let creds: ClientCredentials = await opts.credentials()
  const vin = creds.cn
  const topics = vehicleTopics(vin)
  const addr = parseBrokerUrl(opts.url)
  const now = opts.now ?? Date.now
  const emit = (e: CarEvent) => { try { opts.onEvent?.(e) } catch { /* a printer must not stop the car */ } }
  const memory = openReplayMemory(opts.stateDir, now(), opts.replayCapacity)
  const replay = memory.cache
  const keyStore = openKeyStore(opts.stateDir)
  const backendRole = opts.backendRole ?? DEFAULT_BACKEND_ROLE
  const localChanges: KeyChange[] = []
  for (const step of opts.localKeySteps ?? []) {
    const change = await applyLocalStep(keyStore, step, now())
    if (change !== null) localChanges.push(change)
  }
  // a car that never had a key list publishes none (a broker policy from before key lists may not allow it)
  let publishesKeys = keyStore.list.seq > 0
  const state = initialState()
  const minMs = opts.reconnectMinMs ?? 500
  const maxMs = opts.reconnectMaxMs ?? 30_000
  let stopping = false

  emit({ evt: 'connecting', vin, url: opts.url })
  const client = mqtt.connect(mqttsOptions(addr, { ca: creds.caPem, cert: creds.certPem, key: creds.keyPem }, {
    clientId: vin, keepalive: 30, reconnectPeriod: minMs, connectTimeout: 10_000,
    will: { topic: topics.status, payload: Buffer.from(OFFLINE), qos: 1, retain: true },
  }))

  let firstOnline: () => void = () => {}
  const online = new Promise<void>((resolve) => { firstOnline = resolve })
  client.on('connect', () => {
    noDelay(client)
    client.options.reconnectPeriod = minMs
    client.publish(topics.status, ONLINE, { qos: 1, retain: true })
    if (publishesKeys) publishKeyRecord().catch((err: unknown) => emit({ evt: 'error', vin, message: `key list: ${(err as Error).message}` }))
    client.subscribe(topics.commands, { qos: 1 }, (err) => {
      if (err) return emit({ evt: 'error', vin, message: `subscribe ${topics.commands}: ${err.message}` })
      emit({ evt: 'online', vin })
      firstOnline()
    })
  })
  client.on('offline', () => { if (!stopping) emit({ evt: 'offline', vin }) })
  client.on('reconnect', () => {
    // exponential backoff for the attempt after this one
    const next = Math.min(maxMs, Math.max(minMs, (client.options.reconnectPeriod ?? minMs) * 2))
    client.options.reconnectPeriod = next
    emit({ evt: 'reconnecting', vin, inMs: next })
  })
  client.on('error', (err) => emit({ evt: 'error', vin, message: err.message }))

  async function answer (jti: string, status: 'executed' | 'rejected', reason: CommandReason | undefined, by?: string, change?: KeyChange): Promise<void> {
    const jws = await signResult(vin, jti, status, reason, creds.signing, now(), { by, change })
    await client.publishAsync(topics.results, jws, { qos: 1 })
  }

  /** the list as the fleet should see it: retained, signed by the car */
  async function publishKeyRecord (): Promise<void> {
    const list = keyStore.list
    const jws = await signKeyRecord(vin, list.seq, keyListView(list, backendRole, now()), creds.signing, now())
    await client.publishAsync(topics.keys, jws, { qos: 1, retain: true })
  }

  async function onCommand (payload: Buffer): Promise<void> {
    let decision: CommandDecision
    if (payload.length > MAX_JWS_BYTES) {
      decision = { ok: false, reason: 'malformed', detail: 'larger than 8 KiB' }
    } else {
      // latin1 keeps every byte: a non-ASCII byte can never pass the base64url check
      decision = await verifyCommand(payload.toString('latin1'), {
        chains: creds.chains, vin, topicVin: vin, now: now(), replay, replayFloor: memory.floor, keys: { list: keyStore.list, backendRole },
      }, opts.policy)
    }
    if (decision.ok) {
      // remembered before it acts: a crash in between loses the command, never replays it
      memory.save(now())
      // a key change is on disk before it is answered
      const change = decision.keyChange?.change
      if (decision.keyChange !== undefined) keyStore.commit(decision.keyChange.list)
      const effect = apply(state, decision.command)
      emit({ evt: 'command', vin, jti: decision.command.jti, cmd: decision.command.cmd, status: 'executed', effect, signer: decision.signer?.cn, by: decision.by, role: decision.role, answered: true })
      await answer(decision.command.jti, 'executed', undefined, decision.by, change)
      if (change !== undefined) {
        publishesKeys = true
        emit({ evt: 'keys', vin, seq: change.seq, change, keys: keyStore.list.keys.length })
        await publishKeyRecord()
      }
      return
    }
    // the jti and cmd of a refused command are only what it claimed; printed bounded
    const jti = decision.jti ?? null
    emit({ evt: 'command', vin, jti, cmd: null, status: 'rejected', reason: decision.reason, detail: decision.detail, signer: decision.signer?.cn, by: decision.by, answered: jti !== null })
    if (jti !== null) await answer(jti, 'rejected', decision.reason, decision.by)
  }

  // one command at a time: a key command decides on the list the previous one left
  let queue: Promise<void> = Promise.resolve()
  client.on('message', (topic, payload) => {
    if (topic !== topics.commands) return
    queue = queue.then(() => onCommand(payload)).catch((err: unknown) => emit({ evt: 'error', vin, message: `command handling: ${(err as Error)?.message ?? String(err)}` }))
  })
  for (const change of localChanges) emit({ evt: 'keys', vin, seq: change.seq, change, keys: keyStore.list.keys.length })

  const period = opts.telemetryIntervalMs ?? 5000
  const timer = period > 0
    ? setInterval(() => {
      if (!client.connected) return
      const t = tick(state)
      const ts = now()
      client.publish(topics.telemetry('speed'), JSON.stringify({ v: 1, ts, value: t.speed, unit: 'km/h' }), { qos: 0 })
      client.publish(topics.telemetry('battery'), JSON.stringify({ v: 1, ts, value: t.battery, unit: '%' }), { qos: 0 })
      client.publish(topics.telemetry('location'), JSON.stringify({ v: 1, ts, value: t.location }), { qos: 0 })
      emit({ evt: 'telemetry', vin, speed: t.speed, battery: t.battery })
    }, period)
    : undefined
  timer?.unref()

  let stopped: Promise<void> | undefined
  return {
    vin,
    state,
    client,
    online,
    useCredentials (next) {
      if (next.cn !== vin) throw new Error(`new credentials are for ${next.cn}, not ${vin}`)
      creds = next
      client.options.cert = next.certPem
      client.options.key = next.keyPem
      // a clean DISCONNECT (the Will is discarded), then the same client connects again with the new pair
      client.end(false, {}, () => { if (!stopping) client.reconnect() })
    },
    stop () {
      stopped ??= (async () => {
        stopping = true
        if (timer) clearInterval(timer)
        if (client.connected) {
          // the car says offline itself (a clean DISCONNECT discards the Will)
          await Promise.race([
            client.publishAsync(topics.status, OFFLINE, { qos: 1, retain: true }).catch(() => {}),
            sleep(2000),
          ])
        }
        await client.endAsync(false).catch(() => {})
        emit({ evt: 'stopped', vin })
      })()
      return stopped
    },
  }
}
