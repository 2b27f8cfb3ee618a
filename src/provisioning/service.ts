// The provisioning service's decisions (README "Provisioning and rotation"):
// one request in, one response out, one audit line. Order, cheap first:
// topic + body shape (malformed) -> the sign options (bad_csr, key_not_allowed,
// subject_mismatch; sign-options.ts; no I/O) -> claim (VIN, nonce) atomically:
// a nonce answered before gets the same answer again, one being answered
// elsewhere (a QoS 1 redelivery, another provisioner) is waited for; a request
// the options refused is refused now -> rate limit (only requests that passed
// the checks count, per VIN and per channel: a thief rotating with a stolen
// operational key never uses up the car's birth-certificate budget; counted
// with the claim in one step where the state can) -> issue -> registry +
// retirement -> response.
// Requests of one VIN are handled one after the other in a process. I/O only
// through what it is given (revocations, registry, state, publish), so tests
// can drive it with real stores.
import { setTimeout as sleep } from 'node:timers/promises'
import type { AuditLogger } from '../audit/index.js'
import type { DeviceRegistry, RegistryRecord, RevocationStore } from '../stores/index.js'
import type { Decision, ProvisioningReason } from '../contract/reasons.js'
import { authorize, checkRequest, issueApproved, type ApprovedRequest } from './sign-options.js'
import type { FastIssuer } from './issuer.js'
import {
  issuedResponse, parseRequestBody, parseRequestTopic, rejectedResponse, type Channel, type ProvisioningResponse, type RequestTopic,
} from './messages.js'
import type { Claim, ProvisionerState, Retirement } from './state.js'

/** how long a request whose nonce another handler holds waits for that answer before it is dropped unanswered */
export const BUSY_WAIT_MS = 10_000
const BUSY_POLL_MS = 100

export interface RateLimit {
  readonly count: number
  readonly windowMs: number
}

export interface ServiceOptions {
  readonly issuer: FastIssuer
  /** where retired certificates are revoked (the broker reads it) */
  readonly revocations: RevocationStore
  /** the record of what was issued per VIN (certs:<VIN>) */
  readonly registry: DeviceRegistry
  readonly state: ProvisionerState
  readonly log: AuditLogger
  /** lifetime of an issued certificate (--cert-lifetime) */
  readonly lifetimeMs: number
  /** how long a rotated-out certificate stays valid if the new one never connects (--grace) */
  readonly graceMs: number
  readonly rateLimit: RateLimit
  /** publish at QoS 1, not retained */
  readonly publish: (topic: string, payload: string) => Promise<void>
  readonly now?: () => Date
}

/** revocation reasons the provisioner writes */
export const RETIRE_REASON = {
  /** rotation: the car has a newer certificate */
  rotation: 'superseded',
  /** re-provisioning with the birth certificate: the car lost its key, whoever holds it is cut off */
  reprovision: 'keyCompromise',
} as const

/** busy: another handler held the nonce past BUSY_WAIT_MS (it answers, or the car retries) */
export type Outcome = 'issued' | 'replayed' | 'busy' | ProvisioningReason | 'ignored'

export class ProvisioningService {
  readonly #o: ServiceOptions
  readonly #now: () => Date
  /** the tail of each VIN's queue of requests in this process */
  readonly #byVin = new Map<string, Promise<void>>()

  constructor (opts: ServiceOptions) {
    this.#o = opts
    this.#now = opts.now ?? (() => new Date())
  }

  /** handle one PUBLISH on a request topic; resolves once answered (or refused without an answer) */
  async handle (topic: string, payload: Uint8Array): Promise<Outcome> {
    const log = this.#o.log
    const t = parseRequestTopic(topic)
    if (t === null) {
      // not a VIN's request topic: the ACL should make this impossible; no one to answer
      log.warn({ evt: 'provision.rejected', reason: 'malformed', detail: 'not a request topic' }, 'provisioning request refused')
      return 'ignored'
    }
    const base = { vin: t.vin, channel: t.channel }
    const body = parseRequestBody(payload)
    if (!body.ok) {
      log.info({ evt: 'provision.rejected', ...base, reason: 'malformed', detail: body.detail, nonce: body.nonce ?? undefined }, 'provisioning request refused')
      if (body.nonce !== null) await this.#send(t.responseTopic, rejectedResponse(body.nonce, 'malformed'))
      return 'malformed'
    }
    const { nonce, csrDer } = body.value
    return await this.#oneAtATime(t.vin, () => this.#claimed(t, nonce, csrDer))
  }

  /** run `fn` after every earlier call for this VIN has finished (a re-provisioning sees the rotation before it, and the other way round) */
  #oneAtATime<T> (vin: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#byVin.get(vin) ?? Promise.resolve()
    const run = prev.then(fn)
    const tail = run.then(() => {}, () => {})
    this.#byVin.set(vin, tail)
    void tail.then(() => { if (this.#byVin.get(vin) === tail) this.#byVin.delete(vin) })
    return run
  }

  async #claimed (t: RequestTopic, nonce: string, csrDer: Buffer | null): Promise<Outcome> {
    const base = { vin: t.vin, channel: t.channel }
    const state = this.#o.state
    // The CSR checks first (no I/O): a request that passes them is claimed and counted in
    // one step where the state can (claimCounted). What the car hears is as before: a
    // nonce answered before is replayed and one held elsewhere waited for, whatever
    // its CSR; a refusal is decided with the claim held, and drops it.
    const approved: Decision<ProvisioningReason, ApprovedRequest> = csrDer === null
      ? { ok: false, reason: 'bad_csr', detail: 'no CSR PEM block' }
      : checkRequest(authorize({ vin: t.vin, lifetimeMs: this.#o.lifetimeMs, organization: this.#o.issuer.organization }), t.vin, csrDer)
    let counted: number | undefined
    const take = async (): Promise<Claim> => {
      if (!approved.ok || state.claimCounted === undefined) return await state.claim(t.vin, nonce)
      const c = await state.claimCounted(t.vin, nonce, t.channel, this.#o.rateLimit.windowMs)
      if (c.kind !== 'claimed') return c
      counted = c.count
      return { kind: 'claimed' }
    }
    let claim = await take()
    const deadline = Date.now() + BUSY_WAIT_MS
    while (claim.kind === 'busy') {
      if (Date.now() >= deadline) {
        this.#o.log.warn({ evt: 'provision.busy', ...base, nonce }, 'the request is being answered elsewhere: not answered here')
        return 'busy'
      }
      await sleep(BUSY_POLL_MS)
      claim = await take()
    }
    if (claim.kind === 'replay') {
      this.#o.log.info({ evt: 'provision.replayed', ...base, nonce }, 'repeated nonce: the same certificate again')
      await this.#send(t.responseTopic, claim.response)
      return 'replayed'
    }
    try {
      return await this.#issue(t, nonce, approved, counted)
    } catch (err) {
      // not answered: a retry (the same nonce) runs again
      await state.release(t.vin, nonce).catch(() => {})
      throw err
    }
  }

  /** with the claim held: count (unless claimCounted did), issue, retire, answer (a refusal drops the claim) */
  async #issue (t: RequestTopic, nonce: string, approved: Decision<ProvisioningReason, ApprovedRequest>, counted: number | undefined): Promise<Outcome> {
    const base = { vin: t.vin, channel: t.channel }
    const refuse = async (reason: ProvisioningReason, detail?: string): Promise<Outcome> => {
      await this.#o.state.release(t.vin, nonce)
      return await this.#reject(t.responseTopic, base, nonce, reason, detail)
    }
    if (!approved.ok) return await refuse(approved.reason, approved.detail)
    const count = counted ?? await this.#o.state.count(t.channel, t.vin, this.#o.rateLimit.windowMs)
    if (count > this.#o.rateLimit.count) return await refuse('rate_limited', `${t.channel} request ${count} in the window`)
    const now = this.#now()
    const leaf = issueApproved(this.#o.issuer, approved.value, now)

    // The registry read and write at once; both must be durable before the car hears of its certificate.
    const [earlier] = await Promise.all([
      this.#o.registry.get(t.vin),
      this.#o.registry.set(t.vin, leaf.fingerprint, {
        serial: leaf.serial, notAfter: leaf.notAfter.toISOString(), issuedAt: now.toISOString(), state: 'issued', nonce,
      }),
    ])
    // never one issued for this very request (a retry after a failure): the car may hold it
    const others = (records: Record<string, RegistryRecord>) =>
      Object.entries(records).filter(([fp, r]) => fp !== leaf.fingerprint && r.state !== 'revoked' && r.nonce !== nonce)
    const live = others(earlier)
    let revokedNow = 0
    if (t.channel === 'provision') {
      // re-provisioning: every earlier certificate of this VIN is cut off at once, rotation successors
      // included; read again after the writes, for any issued meanwhile by another provisioner
      revokedNow = await this.#retire(t.vin, live, RETIRE_REASON.reprovision)
      for (let round = 0; round < 3; round++) {
        const late = others(await this.#o.registry.get(t.vin))
        if (late.length === 0) break
        revokedNow += await this.#retire(t.vin, late, RETIRE_REASON.reprovision)
      }
    } else {
      // rotation: the previous ones go on the new one's first connect, or after the grace
      await this.#o.state.scheduleRetirement(live.map(([fp]) => ({ vin: t.vin, fingerprint: fp })), now.getTime() + this.#o.graceMs)
    }
    // The answer last: a retry of a request whose retirement failed must run it again, not replay the answer.
    const response = issuedResponse(nonce, leaf.pem, this.#o.issuer.caPem, leaf.notAfter)
    await this.#o.state.remember(t.vin, nonce, response)
    this.#o.log.info({
      evt: 'provision.issued', ...base, nonce, fp: leaf.fingerprint, serial: leaf.serial, notAfter: response.notAfter,
      revoked: revokedNow, pending: t.channel === 'rotate' ? live.length : 0,
    }, 'certificate issued')
    await this.#send(t.responseTopic, response)
    return 'issued'
  }

  /** the broker saw `fingerprint` connect for the first time: retire every other certificate of the VIN */
  onFirstConnect (vin: string, fingerprint: string): Promise<number> {
    return this.#oneAtATime(vin, () => this.#firstConnect(vin, fingerprint))
  }

  async #firstConnect (vin: string, fingerprint: string): Promise<number> {
    const records = await this.#o.registry.get(vin)
    const connected = records[fingerprint]
    if (connected === undefined) return 0 // not one this provisioner issued
    // A first connect heard late must not cut what came after it: a certificate retired
    // meanwhile (a thief's, by a re-provisioning) retires nothing, and a certificate
    // retires only those issued before it (or in the same ms), never the car's newer one.
    if (connected.state === 'revoked' || connected.state === 'superseded') return 0
    const others = Object.entries(records).filter(([fp, r]) => fp !== fingerprint && r.state !== 'revoked' && r.issuedAt <= connected.issuedAt)
    return await this.#retire(vin, others, RETIRE_REASON.rotation, fingerprint)
  }

  /** retire what passed its grace period; returns how many were revoked */
  async sweep (): Promise<number> {
    const due = await this.#o.state.dueRetirements(this.#now().getTime())
    let n = 0
    const byVin = new Map<string, string[]>()
    for (const r of due) byVin.set(r.vin, [...(byVin.get(r.vin) ?? []), r.fingerprint])
    for (const [vin, fps] of byVin) {
      const records = await this.#o.registry.get(vin)
      const live = fps.flatMap((fp) => { const r = records[fp]; return r !== undefined && r.state !== 'revoked' ? [[fp, r] as [string, RegistryRecord]] : [] })
      n += await this.#retire(vin, live, RETIRE_REASON.rotation, undefined, 'grace')
      await this.#o.state.cancelRetirement(fps.map((fingerprint) => ({ vin, fingerprint })))
    }
    return n
  }

  /** superseded, revoked in the store (live sessions are cut by the broker), then revoked in the registry */
  async #retire (vin: string, certs: ReadonlyArray<[string, RegistryRecord]>, reason: string, by?: string, trigger = by === undefined ? 'reprovision' : 'first_connect'): Promise<number> {
    if (certs.length === 0) return 0
    const revokedAt = this.#now().toISOString()
    for (const [fp, r] of certs) if (r.state !== 'superseded') await this.#o.registry.set(vin, fp, { ...r, state: 'superseded' })
    // the operator log names the provisioner, and why (README "Operator log")
    await this.#o.revocations.revoke(certs.map(([fingerprint]) => ({ fingerprint })), { reason, revokedAt, by: 'fleetgate provisioner', note: `${trigger} of ${vin}` })
    for (const [fp, r] of certs) await this.#o.registry.set(vin, fp, { ...r, state: 'revoked' })
    const items: Retirement[] = certs.map(([fingerprint]) => ({ vin, fingerprint }))
    if (trigger !== 'grace') await this.#o.state.cancelRetirement(items)
    for (const [fp] of certs) {
      this.#o.log.info({ evt: 'provision.retired', vin, fp, reason, trigger, by }, 'earlier certificate revoked')
    }
    return certs.length
  }

  async #reject (topic: string, base: { vin: string; channel: Channel }, nonce: string, reason: ProvisioningReason, detail?: string): Promise<ProvisioningReason> {
    this.#o.log.info({ evt: 'provision.rejected', ...base, nonce, reason, detail }, 'provisioning request refused')
    await this.#send(topic, rejectedResponse(nonce, reason))
    return reason
  }

  async #send (topic: string, response: ProvisioningResponse): Promise<void> {
    await this.#o.publish(topic, JSON.stringify(response))
  }
}
