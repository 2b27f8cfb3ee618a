// The car's side of provisioning and rotation (README "Provisioning and
// rotation"): its key is generated here and never leaves it; a CSR goes out on
// the request topic, the returned certificate is checked (chains to the pinned
// root, holds our own public key, CN is our VIN, OU vehicle, valid now) before
// it is written (atomically) and used. A rejection is reported with its reason
// and retried with backoff.
import { X509Certificate, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto'
import { existsSync, readFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import mqtt, { type MqttClient } from 'mqtt'
import {
  buildCsr, generateKey, issuedBy, mqttsOptions, normaliseSerial, parseCertificate, parseResponseBody, requestTopic, responseTopic, sha256Hex,
  writeFileAtomic, type Channel, type ProvisioningResponse,
} from '../src/index.js'
import { parseBrokerUrl } from './broker-url.js'

export type ProvisioningEvent =
  | { evt: 'provisioning'; vin: string; channel: Channel; attempt: number }
  | { evt: 'provision_rejected'; vin: string; channel: Channel; reason: string; retryInMs: number }
  | { evt: 'provisioned'; vin: string; channel: Channel; serial: string; notAfter: string; fingerprint: string }
  | { evt: 'provision_error'; vin: string; channel: Channel; message: string; retryInMs: number }

/** the operational credentials in a car's state dir */
export interface OperationalCredentials {
  /** leaf + issuing CA */
  readonly certPem: string
  readonly keyPem: string
  readonly notBefore: Date
  readonly notAfter: Date
  readonly fingerprint: string
}

export const STATE_CERT = 'cert.pem'
export const STATE_KEY = 'key.pem'

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g

function certificates (pem: string): X509Certificate[] {
  return [...pem.matchAll(PEM_CERT)].map((m) => new X509Certificate(m[0]))
}

/** when a certificate is due for rotation: less than a third of its life left */
export function rotationDueAt (notBefore: Date, notAfter: Date): number {
  return notBefore.getTime() + Math.floor((notAfter.getTime() - notBefore.getTime()) * 2 / 3)
}

/**
 * Check a returned certificate before switching to it. Returns null when it
 * holds, else what is wrong.
 */
export function checkIssuedCertificate (certPem: string, chainPem: string, opts: { rootPem: string; vin: string; key: KeyObject; now?: Date }): string | null {
  let leaf: X509Certificate
  let chain: X509Certificate[]
  let roots: X509Certificate[]
  try {
    leaf = certificates(certPem)[0]!
    chain = certificates(chainPem)
    roots = certificates(opts.rootPem)
  } catch {
    return 'certificate does not parse'
  }
  if (leaf === undefined || chain.length === 0) return 'no certificate or no chain'
  const issuing = chain[0]!
  if (!issuing.ca) return 'chain certificate is not a CA'
  if (!roots.some((r) => issuedBy(issuing, r))) return 'chain does not lead to the pinned root'
  if (!issuedBy(leaf, issuing)) return 'certificate is not signed by the chain'
  if (leaf.ca) return 'certificate is a CA'
  const now = (opts.now ?? new Date()).getTime()
  if (now < Date.parse(leaf.validFrom) - 5 * 60_000 || now > Date.parse(leaf.validTo)) return 'certificate is not valid now'
  const own = createPublicKey(opts.key).export({ type: 'spki', format: 'der' })
  if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(own)) return 'certificate does not hold our public key'
  const subject = parseCertificate(leaf.raw).subject
  if (subject.CN?.length !== 1 || subject.CN[0] !== opts.vin) return 'certificate CN is not our VIN'
  if (subject.OU?.length !== 1 || subject.OU[0] !== 'vehicle') return 'certificate is not OU=vehicle'
  return null
}

/** write key (0600) and chain; a crash between the two renames leaves a mismatch that loadOperational refuses */
export function saveOperational (stateDir: string, keyPem: string, chainPem: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  writeFileAtomic(join(stateDir, STATE_KEY), keyPem, 0o600)
  writeFileAtomic(join(stateDir, STATE_CERT), chainPem, 0o644)
}

/** the operational credentials in `stateDir` if present, matching, issued for `vin` and not expired; else null */
export function loadOperational (stateDir: string, rootPem: string, vin: string, now = new Date()): OperationalCredentials | null {
  const certPath = join(stateDir, STATE_CERT)
  const keyPath = join(stateDir, STATE_KEY)
  if (!existsSync(certPath) || !existsSync(keyPath)) return null
  try {
    const certPem = readFileSync(certPath, 'utf8')
    const keyPem = readFileSync(keyPath, 'utf8')
    const key = createPrivateKey(keyPem)
    const [leaf, ...rest] = certificates(certPem)
    if (leaf === undefined) return null
    const leafPem = leaf.toString()
    const chainPem = rest.map((c) => c.toString()).join('')
    if (checkIssuedCertificate(leafPem, chainPem, { rootPem, vin, key, now }) !== null) return null
    return { certPem, keyPem, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo), fingerprint: sha256Hex(leaf.raw) }
  } catch {
    return null
  }
}

/**
 * One request/response exchange over a connected client: subscribe to the
 * response topic, publish the request at QoS 1, wait for the answer carrying
 * our nonce. Rejects on timeout.
 */
export async function exchange (client: MqttClient, channel: Channel, vin: string, csrPem: string, opts: { nonce?: string; timeoutMs?: number } = {}): Promise<ProvisioningResponse> {
  const nonce = opts.nonce ?? randomUUID()
  const resTopic = responseTopic(channel, vin)
  await client.subscribeAsync(resTopic, { qos: 1 })
  return await new Promise<ProvisioningResponse>((resolve, reject) => {
    const done = (err: Error | null, r?: ProvisioningResponse) => {
      clearTimeout(timer); client.off('message', onMessage); client.off('close', onClose)
      if (err) reject(err); else resolve(r!)
    }
    const onMessage = (topic: string, payload: Buffer) => {
      if (topic !== resTopic || payload.length > 64 * 1024) return
      const r = parseResponseBody(payload)
      if (r !== null && r.nonce === nonce) done(null, r)
    }
    const onClose = () => done(new Error('connection closed before the response'))
    const timer = setTimeout(() => done(new Error(`no response within ${opts.timeoutMs ?? 15_000} ms`)), opts.timeoutMs ?? 15_000)
    client.on('message', onMessage)
    client.once('close', onClose)
    client.publish(requestTopic(channel, vin), JSON.stringify({ v: 1, nonce, csr: csrPem }), { qos: 1 })
  })
}

export interface ProvisionOptions {
  /** mqtts://host:port */
  readonly url: string
  /** the pinned fleet root */
  readonly rootPem: string
  readonly birthCertPem: string
  readonly birthKeyPem: string
  readonly stateDir: string
  readonly onEvent?: (e: ProvisioningEvent) => void
  /** per attempt; default 15 s */
  readonly timeoutMs?: number
  /** give up after this many attempts; default 8 */
  readonly maxAttempts?: number
  /** backoff after a rejection or failure: first wait and cap (default 1 s .. 60 s) */
  readonly backoffMinMs?: number
  readonly backoffMaxMs?: number
}

function vinOfBirth (birthCertPem: string): string {
  const leaf = certificates(birthCertPem)[0]
  const cn = leaf === undefined ? undefined : parseCertificate(leaf.raw).subject.CN
  if (cn?.length !== 1) throw new Error('the birth certificate has no single CN')
  return cn[0]!
}

/**
 * Request, check and save a certificate over `connect()` (a fresh connection
 * per attempt), retrying with exponential backoff. Used for both channels.
 */
async function obtain (channel: Channel, vin: string, opts: ProvisionOptions, connect: () => Promise<MqttClient>, release: (c: MqttClient) => Promise<void>): Promise<OperationalCredentials> {
  const emit = (e: ProvisioningEvent) => { try { opts.onEvent?.(e) } catch { /* a printer must not stop the car */ } }
  const max = opts.maxAttempts ?? 8
  let wait = opts.backoffMinMs ?? 1000
  const cap = opts.backoffMaxMs ?? 60_000
  for (let attempt = 1; ; attempt++) {
    emit({ evt: 'provisioning', vin, channel, attempt })
    const key = generateKey()
    let problem: { reason?: string; message?: string }
    let client: MqttClient | undefined
    try {
      client = await connect()
      const r = await exchange(client, channel, vin, buildCsr(key, [['CN', vin]]), { timeoutMs: opts.timeoutMs })
      if (r.status === 'issued') {
        const bad = checkIssuedCertificate(r.certificate, r.chain, { rootPem: opts.rootPem, vin, key })
        if (bad === null) {
          const keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string
          const chainPem = r.certificate + r.chain
          saveOperational(opts.stateDir, keyPem, chainPem)
          const leaf = new X509Certificate(r.certificate)
          const creds: OperationalCredentials = {
            certPem: chainPem, keyPem, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo),
            fingerprint: sha256Hex(leaf.raw),
          }
          emit({ evt: 'provisioned', vin, channel, serial: normaliseSerial(leaf.serialNumber) ?? leaf.serialNumber, notAfter: creds.notAfter.toISOString(), fingerprint: creds.fingerprint })
          return creds
        }
        problem = { message: `returned certificate refused: ${bad}` }
      } else {
        problem = { reason: r.reason }
      }
    } catch (err) {
      problem = { message: (err as Error).message }
    } finally {
      if (client !== undefined) await release(client)
    }
    if (attempt >= max) throw new Error(`${channel} failed after ${attempt} attempts: ${problem.reason ?? problem.message}`)
    const jittered = Math.floor(wait * (0.75 + Math.random() * 0.5))
    if (problem.reason !== undefined) emit({ evt: 'provision_rejected', vin, channel, reason: problem.reason, retryInMs: jittered })
    else emit({ evt: 'provision_error', vin, channel, message: problem.message ?? 'unknown', retryInMs: jittered })
    await sleep(jittered)
    wait = Math.min(cap, wait * 2)
  }
}

/** connect once with the given TLS material (clientId = VIN), no automatic reconnects */
export async function connectOnce (url: string, rootPem: string, certPem: string, keyPem: string, clientId: string, timeoutMs = 10_000): Promise<MqttClient> {
  const addr = parseBrokerUrl(url)
  const client = mqtt.connect(mqttsOptions(addr, { ca: rootPem, cert: certPem, key: keyPem }, { clientId, connectTimeout: timeoutMs, keepalive: 30 }))
  return await new Promise<MqttClient>((resolve, reject) => {
    const fail = (err: Error) => { client.end(true); reject(err) }
    client.once('connect', () => { client.off('error', fail); resolve(client) })
    client.once('error', fail)
    client.once('close', () => fail(new Error('connection closed (refused?)')))
  })
}

/**
 * The car's start: its operational credentials from the state dir, or, when
 * there are none (or they no longer hold), provisioned with the birth certificate.
 */
export async function ensureOperational (opts: ProvisionOptions): Promise<OperationalCredentials> {
  const vin = vinOfBirth(opts.birthCertPem)
  const current = loadOperational(opts.stateDir, opts.rootPem, vin)
  if (current !== null) return current
  return await obtain('provision', vin, opts,
    async () => await connectOnce(opts.url, opts.rootPem, opts.birthCertPem, opts.birthKeyPem, vin, opts.timeoutMs),
    async (c) => { await c.endAsync(false).catch(() => c.end(true)) })
}

/**
 * Rotation over the car's current operational connection (`client`): a new
 * key, a request on vehicles/{vin}/certificate/request, checks, saved.
 * The caller reconnects with the result.
 */
export async function rotate (client: MqttClient, vin: string, opts: ProvisionOptions): Promise<OperationalCredentials> {
  return await obtain('rotate', vin, opts, async () => {
    if (!client.connected) throw new Error('not connected')
    return client
  }, async () => {})
}

/** one readable line per provisioning event (reasons are the provisioner's own words, from the README's list of provisioning reasons) */
export function formatProvisioningEvent (e: ProvisioningEvent): string {
  const what = e.channel === 'provision' ? 'provisioning' : 'rotation'
  switch (e.evt) {
    case 'provisioning': return `car ${e.vin}: ${what}: requesting a certificate (attempt ${e.attempt})`
    case 'provision_rejected': return `car ${e.vin}: ${what}: rejected: ${e.reason.replace(/[^a-z_]/g, '?').slice(0, 40)}; retrying in ${e.retryInMs} ms`
    case 'provision_error': return `car ${e.vin}: ${what}: ${e.message.replace(/\p{Cc}/gu, '?').slice(0, 200)}; retrying in ${e.retryInMs} ms`
    case 'provisioned': return `car ${e.vin}: ${what}: new certificate serial ${e.serial}, valid until ${e.notAfter}`
  }
}
