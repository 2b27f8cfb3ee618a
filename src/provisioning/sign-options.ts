// Sign options, as step-ca's provisioners (authority/provisioner/sign_options.go): authorize()
// returns small named checks and modifiers; checkRequest() runs them in a fixed
// order (CSR validators -> modifiers -> template validators), issueApproved() signs. The CSR
// gives the public key and nothing else: the provisioner sets the subject,
// EKU, constraints and lifetime (README "Provisioning and rotation").
// Pure: values in, values out.
import type { KeyObject } from 'node:crypto'
import type { ProvisioningReason, Decision } from '../contract/reasons.js'
import { isP256Key, parseRequest, requestCommonName, verifyProofOfPossession, type ParsedRequest } from './csr.js'
import { BACKDATE_MS, emptyTemplate, type CertificateTemplate } from './template.js'
import { EKU_CLIENT_AUTH } from '../identity/index.js'
import type { FastIssuer, IssuedLeaf, SubjectKey } from './issuer.js'

/** what a CSR validator sees; the PoP validator fills in the key */
export interface CsrContext {
  /** the VIN of the request's topic (the broker's ACL makes it the requester's own) */
  readonly vin: string
  readonly csr: ParsedRequest
  /** set by the proof-of-possession validator */
  publicKey: KeyObject | null
}

export interface CsrValidator {
  readonly kind: 'csr'
  readonly name: string
  /** null: passes; else the reason the client is told */
  validate (ctx: CsrContext): ProvisioningReason | null
}

export interface TemplateModifier {
  readonly kind: 'modifier'
  readonly name: string
  modify (template: CertificateTemplate): void
}

export interface TemplateValidator {
  readonly kind: 'template'
  readonly name: string
  /** null: passes; else an internal error (a misconfigured provisioner, never the client's fault) */
  validate (template: Readonly<CertificateTemplate>): string | null
}

export type SignOption = CsrValidator | TemplateModifier | TemplateValidator

// ---- CSR validators (cheap first: no crypto until the last) ----

/** ECDSA P-256 only, read from the SPKI's AlgorithmIdentifier before any key import */
export const p256KeyValidator: CsrValidator = {
  kind: 'csr',
  name: 'p256KeyValidator',
  validate: (ctx) => isP256Key(ctx.csr) ? null : 'key_not_allowed',
}

/** the CSR's subject holds exactly one CN and it is the topic's VIN */
export function commonNameValidator (vin: string): CsrValidator {
  return { kind: 'csr', name: 'commonNameValidator', validate: (ctx) => requestCommonName(ctx.csr) === vin ? null : 'subject_mismatch' }
}

/** proof of possession: the CSR's self-signature holds under its own key */
export const proofOfPossessionValidator: CsrValidator = {
  kind: 'csr',
  name: 'proofOfPossessionValidator',
  validate (ctx) {
    const key = verifyProofOfPossession(ctx.csr)
    if (key === null) return 'bad_csr'
    ctx.publicKey = key
    return null
  },
}

// ---- modifiers: the provisioner, not the CSR, decides ----

/** subject = [O=<issuing CA's O>,] OU=vehicle, CN=<VIN>; every CSR subject attribute is ignored */
export function forceVehicleSubject (vin: string, organization: string | null): TemplateModifier {
  return {
    kind: 'modifier',
    name: 'forceVehicleSubject',
    modify (t) { t.organization = organization; t.organizationalUnit = 'vehicle'; t.commonName = vin },
  }
}

/** EKU clientAuth only (requested extensions are ignored; CA:false and digitalSignature are fixed in the template) */
export const clientAuthOnly: TemplateModifier = {
  kind: 'modifier',
  name: 'clientAuthOnly',
  modify (t) { t.extKeyUsage = [EKU_CLIENT_AUTH] },
}

/** the lifetime; notBefore is backdated a minute for clock skew, at most a tenth of a (demo-short) lifetime */
export function lifetimeModifier (lifetimeMs: number): TemplateModifier {
  return { kind: 'modifier', name: 'lifetimeModifier', modify (t) { t.lifetimeMs = lifetimeMs; t.backdateMs = Math.min(BACKDATE_MS, Math.floor(lifetimeMs / 10)) } }
}

// ---- template validators ----

export function vehicleProfileValidator (vin: string): TemplateValidator {
  return {
    kind: 'template',
    name: 'vehicleProfileValidator',
    validate (t) {
      if (t.commonName !== vin || t.organizationalUnit !== 'vehicle') return 'subject is not CN=<VIN>, OU=vehicle'
      if (t.extKeyUsage.length !== 1 || t.extKeyUsage[0] !== EKU_CLIENT_AUTH) return 'EKU is not clientAuth'
      if (!(t.lifetimeMs > 0)) return 'no lifetime'
      return null
    },
  }
}

export interface AuthorizeOptions {
  /** the topic's VIN */
  readonly vin: string
  readonly lifetimeMs: number
  /** O= of issued subjects (the issuing CA's O), or null */
  readonly organization: string | null
}

/** The sign options of one provisioning or rotation request, in their run order. */
export function authorize (opts: AuthorizeOptions): SignOption[] {
  return [
    p256KeyValidator,
    commonNameValidator(opts.vin),
    proofOfPossessionValidator,
    forceVehicleSubject(opts.vin, opts.organization),
    clientAuthOnly,
    lifetimeModifier(opts.lifetimeMs),
    vehicleProfileValidator(opts.vin),
  ]
}

const KIND_ORDER = { csr: 0, modifier: 1, template: 2 } as const

/** thrown for a template validator failure: the provisioner is misconfigured */
export class SignOptionError extends Error {}

/** A request that passed every sign option: what issueApproved certifies. */
export interface ApprovedRequest {
  readonly key: SubjectKey
  readonly template: Readonly<CertificateTemplate>
}

/**
 * Run the sign options over a CSR (DER), issuing nothing. The options run in
 * the fixed order csr -> modifier -> template (stable within a kind); the
 * first CSR validator that fails decides the reason. An unparseable CSR is
 * bad_csr. Split from the issuance so that the rate limit counts only
 * requests that pass (a junk request must not use up a car's budget).
 */
export function checkRequest (options: readonly SignOption[], vin: string, csrDer: Uint8Array): Decision<ProvisioningReason, ApprovedRequest> {
  const csr = parseRequest(csrDer)
  if (csr === null) return { ok: false, reason: 'bad_csr', detail: 'not a PKCS#10 request' }
  const ordered = [...options].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind])
  const ctx: CsrContext = { vin, csr, publicKey: null }
  const template = emptyTemplate()
  for (const option of ordered) {
    switch (option.kind) {
      case 'csr': {
        const reason = option.validate(ctx)
        if (reason !== null) return { ok: false, reason, detail: option.name }
        break
      }
      case 'modifier':
        option.modify(template)
        break
      case 'template': {
        const problem = option.validate(template)
        if (problem !== null) throw new SignOptionError(`${option.name}: ${problem}`)
        break
      }
      default:
        throw new SignOptionError(`unknown sign option ${JSON.stringify(option)}`)
    }
  }
  // no proof-of-possession validator ran: never certify an unverified key
  if (ctx.publicKey === null) throw new SignOptionError('no proof-of-possession validator among the sign options')
  return { ok: true, value: { key: { spkiDer: csr.spkiDer, publicKeyBits: csr.publicKeyBits }, template } }
}

/** certify a request checkRequest approved */
export function issueApproved (issuer: FastIssuer, approved: ApprovedRequest, now = new Date()): IssuedLeaf {
  return issuer.issue(approved.key, approved.template, now)
}

/** checkRequest, then issue: the sign options over a CSR (DER) and the certificate */
export function signRequest (issuer: FastIssuer, options: readonly SignOption[], vin: string, csrDer: Uint8Array, now = new Date()): Decision<ProvisioningReason, IssuedLeaf> {
  const d = checkRequest(options, vin, csrDer)
  return d.ok ? { ok: true, value: issueApproved(issuer, d.value, now) } : d
}
