// Shared by the provisioning security tests: a real `fleetgate provisioner`
// child process on a given store, its JSON audit lines, and a car's side
// (birth connect, exchange, operational connect) with keys made here.
import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { X509Certificate, type KeyObject } from 'node:crypto'
import type { ChildProcess } from 'node:child_process'
import type { MqttClient } from 'mqtt'
import { startCli, stopChild } from '../harness/cli.js'
import { tryConnect } from '../harness/mqtt.js'
import type { TestPki } from '../harness/pki.js'
import type { IssuedResponse, ProvisioningResponse } from '../../src/provisioning/index.js'

export type Line = Record<string, unknown>

export interface ProvisionerProcess {
  readonly child: ChildProcess
  lines (): Line[]
  waitLine (evt: string, match?: Line, timeoutMs?: number): Promise<Line>
  stop (): Promise<void>
}

/** `fleetgate provisioner` against the broker on `port`; `store`: its store flags; `env`: extra environment */
export async function startProvisionerCli (pki: TestPki, port: number, store: string[], opts: { env?: NodeJS.ProcessEnv; extra?: string[] } = {}): Promise<ProvisionerProcess> {
  const p = await startCli([
    'provisioner', '--url', `mqtts://127.0.0.1:${port}`, '--ca', join(pki.dir, 'root-ca.pem'),
    '--cert', join(pki.provisioner, 'cert.pem'), '--key', join(pki.provisioner, 'key.pem'),
    '--issuer-cert', join(pki.dir, 'issuing-ca.pem'), '--issuer-key', join(pki.dir, 'issuing-ca.key'),
    '--grace', '1h', '--cert-lifetime', '2h', ...store, ...(opts.extra ?? []),
  ], /fleetgate provisioner: /, { env: opts.env })
  const lines = (): Line[] => p.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line)
  return {
    child: p.child,
    lines,
    async waitLine (evt, match = {}, timeoutMs = 8000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const hit = lines().find((l) => l.evt === evt && Object.entries(match).every(([k, v]) => l[k] === v))
        if (hit) return hit
        if (Date.now() > deadline) throw new Error(`no provisioner line ${evt} ${JSON.stringify(match)}; saw ${lines().map((l) => `${String(l.evt)}:${String(l.reason ?? '')}`).join(', ')}; stderr ${p.stderr()}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    stop: () => stopChild(p.child),
  }
}

export function issued (r: ProvisioningResponse): IssuedResponse {
  if (r.status !== 'issued') throw new Error(`expected issued, got ${JSON.stringify(r)}`)
  return r
}

export function fingerprintOf (pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase()
}

export function keyPem (key: KeyObject): Buffer {
  return Buffer.from(key.export({ type: 'pkcs8', format: 'pem' }) as string)
}

/** connect once (clientId = the VIN): the client, or throw with why it was refused */
export async function connectAs (pki: TestPki, port: number, certPem: string | Buffer, key: Buffer, vin: string): Promise<MqttClient> {
  const o = await tryConnect(port, { ca: readFileSync(join(pki.dir, 'root-ca.pem')), cert: Buffer.from(certPem), key }, { clientId: vin })
  if (!o.ok) throw new Error(`refused: ${o.error} rc=${String(o.returnCode)}`)
  return o.client
}

/** the same, but say how it ended: 'connected' (then closed again) or the CONNACK code */
export async function connectOutcome (pki: TestPki, port: number, certPem: string | Buffer, key: Buffer, vin: string): Promise<string> {
  const o = await tryConnect(port, { ca: readFileSync(join(pki.dir, 'root-ca.pem')), cert: Buffer.from(certPem), key }, { clientId: vin })
  if (o.ok) { await o.client.endAsync(true).catch(() => {}); return 'connected' }
  return `refused rc=${String(o.returnCode)}`
}

/** publish a QoS 1 request and wait for its PUBACK (the broker has it) */
export async function publishRequest (client: MqttClient, topic: string, body: unknown): Promise<void> {
  await new Promise<void>((resolve, reject) => client.publish(topic, JSON.stringify(body), { qos: 1 }, (err) => err ? reject(err) : resolve()))
}
