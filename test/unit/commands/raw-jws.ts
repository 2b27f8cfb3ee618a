// JWS compact ES256 made with node:crypto alone (not src/commands): the
// contract, not our code, decides what a Python or Java backend must produce.
import { createSign, type KeyObject } from 'node:crypto'

const b64url = (b: Buffer) => b.toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')

export function rawJws (header: object, payload: object | string, key: KeyObject): string {
  const h = b64url(Buffer.from(JSON.stringify(header)))
  const p = b64url(Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)))
  const signer = createSign('SHA256')
  signer.update(`${h}.${p}`)
  const sig = signer.sign({ key, dsaEncoding: 'ieee-p1363' })
  return `${h}.${p}.${b64url(sig)}`
}

/** base64 (standard, padded) DER of each PEM certificate, file order: an x5c array */
export function x5cOf (chainPem: string): string[] {
  return [...chainPem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/g)].map((m) => (m[1] ?? '').replace(/\s+/g, ''))
}

/** a payload by the contract: {"v":1,"vin","cmd","args","jti","iat","exp"} */
export function commandBody (vin: string, cmd: string, args: object = {}, over: Record<string, unknown> = {}, now = Date.now()): Record<string, unknown> {
  return { v: 1, vin, cmd, args, jti: crypto.randomUUID(), iat: now, exp: now + 30_000, ...over }
}

/** flip one character of the payload part: the signature no longer holds */
export function tamper (jws: string): string {
  const [h, p, s] = jws.split('.') as [string, string, string]
  const body = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
  body.cmd = body.cmd === 'unlock' ? 'lock' : 'unlock'
  return `${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${s}`
}
