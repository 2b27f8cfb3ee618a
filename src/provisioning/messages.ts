// The provisioning exchange on the wire (README "Provisioning and rotation"):
// request/response topics and JSON bodies. Pure.
import type { ProvisioningReason } from '../contract/reasons.js'
import { isVin } from '../pki/vin.js'

/** a larger request is malformed: a P-256 CSR in PEM is well under 1 KiB */
export const MAX_REQUEST_BYTES = 16 * 1024

export type Channel = 'provision' | 'rotate'

export const REQUEST_FILTERS = ['provisioning/+/request', 'vehicles/+/certificate/request'] as const

export interface RequestTopic {
  readonly channel: Channel
  readonly vin: string
  readonly responseTopic: string
}

export function requestTopic (channel: Channel, vin: string): string {
  return channel === 'provision' ? `provisioning/${vin}/request` : `vehicles/${vin}/certificate/request`
}

export function responseTopic (channel: Channel, vin: string): string {
  return channel === 'provision' ? `provisioning/${vin}/response` : `vehicles/${vin}/certificate/response`
}

/** the channel and VIN of a request topic; null for any other topic or a VIN-less one */
export function parseRequestTopic (topic: string): RequestTopic | null {
  const p = topic.split('/')
  let channel: Channel
  let vin: string
  if (p.length === 3 && p[0] === 'provisioning' && p[2] === 'request') {
    channel = 'provision'; vin = p[1]!
  } else if (p.length === 4 && p[0] === 'vehicles' && p[2] === 'certificate' && p[3] === 'request') {
    channel = 'rotate'; vin = p[1]!
  } else {
    return null
  }
  if (!isVin(vin)) return null
  return { channel, vin, responseTopic: responseTopic(channel, vin) }
}

export interface ProvisioningRequest {
  readonly nonce: string
  /** the CSR PEM block's DER; null when the csr field holds no CSR PEM block (bad_csr) */
  readonly csrDer: Buffer | null
}

export type ParsedRequestBody =
  | { readonly ok: true; readonly value: ProvisioningRequest }
  /** nonce: what to answer `malformed` with; null: no answer */
  | { readonly ok: false; readonly reason: 'malformed'; readonly nonce: string | null; readonly detail: string }

/** a nonce is a short token (a UUID in practice); anything else is not echoed back */
const NONCE = /^[A-Za-z0-9._:-]{1,128}$/
const CSR_BLOCK = /-----BEGIN (NEW )?CERTIFICATE REQUEST-----([A-Za-z0-9+/=\s]*?)-----END \1CERTIFICATE REQUEST-----/

/** `{"v":1,"nonce":"<uuid>","csr":"<PKCS#10 PEM>"}`, checked cheap first */
export function parseRequestBody (payload: Uint8Array): ParsedRequestBody {
  if (payload.byteLength > MAX_REQUEST_BYTES) return { ok: false, reason: 'malformed', nonce: null, detail: 'over 16 KiB' }
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'))
  } catch {
    return { ok: false, reason: 'malformed', nonce: null, detail: 'not JSON' }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, reason: 'malformed', nonce: null, detail: 'not a JSON object' }
  const o = body as Record<string, unknown>
  const nonce = typeof o.nonce === 'string' && NONCE.test(o.nonce) ? o.nonce : null
  if (nonce === null) return { ok: false, reason: 'malformed', nonce: null, detail: 'nonce missing or not a short token' }
  if (o.v !== 1) return { ok: false, reason: 'malformed', nonce, detail: 'v is not 1' }
  if (typeof o.csr !== 'string') return { ok: false, reason: 'malformed', nonce, detail: 'csr missing or not a string' }
  const m = CSR_BLOCK.exec(o.csr)
  return { ok: true, value: { nonce, csrDer: m === null ? null : Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') } }
}

export interface IssuedResponse {
  readonly v: 1
  readonly nonce: string
  readonly status: 'issued'
  readonly certificate: string
  readonly chain: string
  readonly notAfter: string
}

export interface RejectedResponse {
  readonly v: 1
  readonly nonce: string
  readonly status: 'rejected'
  readonly reason: ProvisioningReason
}

export type ProvisioningResponse = IssuedResponse | RejectedResponse

export function issuedResponse (nonce: string, certificatePem: string, chainPem: string, notAfter: Date): IssuedResponse {
  return { v: 1, nonce, status: 'issued', certificate: certificatePem, chain: chainPem, notAfter: notAfter.toISOString() }
}

export function rejectedResponse (nonce: string, reason: ProvisioningReason): RejectedResponse {
  return { v: 1, nonce, status: 'rejected', reason }
}

/** the car's side: a response body, or null when it is not one */
export function parseResponseBody (payload: Uint8Array): ProvisioningResponse | null {
  let o: Record<string, unknown>
  try {
    const v = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8')) as unknown
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null
    o = v as Record<string, unknown>
  } catch {
    return null
  }
  if (o.v !== 1 || typeof o.nonce !== 'string') return null
  if (o.status === 'issued' && typeof o.certificate === 'string' && typeof o.chain === 'string' && typeof o.notAfter === 'string') {
    return { v: 1, nonce: o.nonce, status: 'issued', certificate: o.certificate, chain: o.chain, notAfter: o.notAfter }
  }
  if (o.status === 'rejected' && typeof o.reason === 'string') {
    return { v: 1, nonce: o.nonce, status: 'rejected', reason: o.reason as ProvisioningReason }
  }
  return null
}
