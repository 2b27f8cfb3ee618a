// Shared by the signed-commands tests: the real car as a child process
// (`fleetgate sim car --json`), a real MQTT.js backend, JWS made with node:crypto.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createPrivateKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto'
import type { MqttClient } from 'mqtt'
import { BIN } from '../harness/cli.js'
import { commandTrust, SignerVerifier, verifyResult, type ResultPayload } from '../../src/commands/index.js'
import { rawJws, x5cOf } from '../unit/commands/raw-jws.js'

export type CarLine = Record<string, unknown> & { evt: string }

export class CarProcess {
  readonly lines: CarLine[] = []
  stderr = ''
  #buf = ''
  #waiters: Array<() => void> = []
  private constructor (readonly child: ChildProcess, readonly vin: string) {
    child.stdout!.on('data', (d: Buffer) => {
      this.#buf += d.toString()
      let i: number
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        const line = this.#buf.slice(0, i)
        this.#buf = this.#buf.slice(i + 1)
        try { this.lines.push(JSON.parse(line) as CarLine) } catch { this.lines.push({ evt: 'unparsed', line }) }
      }
      const w = this.#waiters; this.#waiters = []
      for (const f of w) f()
    })
    child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString() })
  }

  static async start (port: number, pkiDir: string, certDir: string, vin: string, extra: string[] = []): Promise<CarProcess> {
    const child = spawn(process.execPath, [BIN, 'sim', 'car', '--url', `mqtts://localhost:${port}`,
      '--ca', join(pkiDir, 'root-ca.pem'), '--cert', join(certDir, 'cert.pem'), '--key', join(certDir, 'key.pem'),
      '--json', '--telemetry-interval', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
    const car = new CarProcess(child, vin)
    await car.waitFor((l) => l.evt === 'online', 15_000)
    return car
  }

  find (pred: (l: CarLine) => boolean): CarLine | undefined { return this.lines.find(pred) }

  async waitFor (pred: (l: CarLine) => boolean, timeoutMs = 5000): Promise<CarLine> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.lines.find(pred)
      if (hit) return hit
      if (this.child.exitCode !== null) throw new Error(`car exited ${this.child.exitCode}: ${this.stderr}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`car: no such line within ${timeoutMs} ms; saw ${JSON.stringify(this.lines.slice(-5))}; stderr ${this.stderr}`)
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, Math.min(left, 200)); this.#waiters.push(() => { clearTimeout(t); resolve() }) })
    }
  }

  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    return await new Promise((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      child.once('exit', (code) => { clearTimeout(t); resolve(code) })
      child.kill(signal)
    })
  }
}

/** A command body (README "Signed commands"), fresh for 30 s; `over` replaces any field (args, iat, exp, ...). */
export function commandBody (vin: string, cmd: string, over: Record<string, unknown> = {}): { jti: string } & Record<string, unknown> {
  const now = Date.now()
  return { v: 1, vin, cmd, args: {}, jti: randomUUID(), iat: now, exp: now + 30_000, ...over }
}

/** A signer (cert chain dir with cert.pem + key.pem) that builds JWS with node:crypto alone. */
export interface RawSigner { readonly x5c: string[]; readonly key: KeyObject }
export function rawSigner (certDir: string): RawSigner {
  return { x5c: x5cOf(readFileSync(join(certDir, 'cert.pem'), 'utf8')), key: createPrivateKey(readFileSync(join(certDir, 'key.pem'))) }
}
export function sign (s: RawSigner, body: object, header: Record<string, unknown> = {}): string {
  return rawJws({ alg: 'ES256', x5c: s.x5c, ...header }, body, s.key)
}

/** The backend's view of the car's results: pinned root + the fleet issuing CA. */
export function resultVerifier (pkiDir: string): SignerVerifier {
  const der = (f: string) => new X509Certificate(readFileSync(join(pkiDir, f))).raw
  return new SignerVerifier(commandTrust([der('root-ca.pem')], [der('issuing-ca.pem')]))
}

/** Collect the results a backend client receives, verified (signature, chain, CN = VIN, jti). */
export class ResultInbox {
  readonly raw: Array<{ topic: string; jws: string }> = []
  constructor (readonly client: MqttClient, readonly chains: SignerVerifier) {
    client.on('message', (topic, payload) => { if (topic.endsWith('/command-results')) this.raw.push({ topic, jws: payload.toString() }) })
  }

  /** the verified result for `jti` from `vin` (rejects on timeout) */
  async waitFor (vin: string, jti: string, timeoutMs = 5000): Promise<ResultPayload> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      for (const r of this.raw) {
        if (r.topic !== `vehicles/${vin}/command-results`) continue
        const d = await verifyResult(r.jws, { chains: this.chains, vin, jti, now: Date.now() })
        if (d.ok) return d.result
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`no verified result for ${jti} within ${timeoutMs} ms`)
  }

  /** how many results mention this jti in their (unverified) payload */
  countFor (jti: string): number {
    return this.raw.filter((r) => { try { return Buffer.from(r.jws.split('.')[1] ?? '', 'base64url').toString().includes(jti) } catch { return false } }).length
  }
}
