// The provisioner's state port, beside the registry: nonces it answered and the
// ones being answered now (the claim: one issuance per request, however often
// it is delivered and however many provisioners see it), the per-VIN,
// per-channel rate limit, and the retirements due after --grace.
// Implementations: embedded (src/provisioning/state.ts) and Redis
// (src/provisioning/redis-state.ts). The store keeps an answer as it is given
// (JSON): `Answer` is the provisioning response (src/provisioning/messages.ts).

/** the request channel: provision (birth certificate) or rotate (operational certificate) */
export type ProvisioningChannel = 'provision' | 'rotate'

export type Claim<Answer = unknown> =
  /** this handler holds (VIN, nonce): check, issue, then remember() or release() */
  | { readonly kind: 'claimed' }
  /** the nonce was answered before: send this again, count nothing */
  | { readonly kind: 'replay'; readonly response: Answer }
  /** another handler holds it (a redelivery in flight, another provisioner): its answer comes later */
  | { readonly kind: 'busy' }

/** claimCounted's answer: a claim made by that call comes with its count */
export type CountedClaim<Answer = unknown> =
  | { readonly kind: 'claimed'; readonly count: number }
  | Exclude<Claim<Answer>, { readonly kind: 'claimed' }>

export interface Retirement {
  readonly vin: string
  readonly fingerprint: string
}

export interface ProvisionerState<Answer = unknown> {
  /** 'file', 'redis', or what a user's store calls itself */
  readonly kind: string
  /** atomically: the answer if (VIN, nonce) was answered, else claim it unless another handler holds it */
  claim (vin: string, nonce: string): Promise<Claim<Answer>>
  /** count one request that passed the CSR checks against the VIN's window of this channel; the count, this one included */
  count (channel: ProvisioningChannel, vin: string, windowMs: number): Promise<number>
  /**
   * Optional, for a request that passed the CSR checks: claim() and, only when
   * this call claims the nonce, count() in the same atomic step (a replay or a
   * busy nonce counts nothing, as with claim() then count()). A store without it
   * is used through claim() then count(): one round trip more.
   */
  claimCounted? (vin: string, nonce: string, channel: ProvisioningChannel, windowMs: number): Promise<CountedClaim<Answer>>
  /** record the answer of a claimed nonce (a replay gets it from now on) and drop the claim */
  remember (vin: string, nonce: string, response: Answer): Promise<void>
  /** drop a claim without an answer (a refusal, a failure): a retry is handled afresh */
  release (vin: string, nonce: string): Promise<void>
  scheduleRetirement (items: readonly Retirement[], dueAt: number): Promise<void>
  cancelRetirement (items: readonly Retirement[]): Promise<void>
  /** retirements due at `now` (still scheduled until cancelled) */
  dueRetirements (now: number): Promise<Retirement[]>
  close (): Promise<void>
}
