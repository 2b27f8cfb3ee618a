// A car's key list on disk (README "The car's key list"): <state dir>/keys.json,
// replaced atomically before the car answers a key command, so an answered
// change is never lost and a crash in between loses the change, never half of
// it. Without a state dir the list lives in memory (the car forgets its keys
// when it stops). The decisions themselves are fleetgate's (src/commands/keys.ts).
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createPublicKey } from 'node:crypto'
import {
  emptyKeyList, fgError, pairOwner, parseKeyList, publicJwkOf, transferTo, wipeKeyList, writeFileAtomic,
  type KeyChange, type KeyList, type PublicJwk,
} from '../src/index.js'

export const KEYS_FILE = 'keys.json'

export interface KeyStore {
  readonly list: KeyList
  /** replace the list (persisted first when there is a state dir) */
  commit (next: KeyList): void
}

export function openKeyStore (stateDir: string | undefined): KeyStore {
  const file = stateDir === undefined ? undefined : join(stateDir, KEYS_FILE)
  let list = emptyKeyList()
  if (file !== undefined && existsSync(file)) {
    let raw: unknown
    try { raw = JSON.parse(readFileSync(file, 'utf8')) } catch { raw = undefined }
    const parsed = parseKeyList(raw)
    // a key list that cannot be read is not silently replaced by an empty one (which would lock the owner out)
    if (parsed === null) throw fgError('FG_ERR_STORE_INVALID', `${file}: not a key list (fix or remove it; removing it forgets every key)`)
    list = parsed
  }
  return {
    get list () { return list },
    commit (next) {
      if (file !== undefined) writeFileAtomic(file, JSON.stringify(next), 0o600)
      list = next
    },
  }
}

/** A PEM public key (SPKI) file's P-256 JWK; `flag` names it in errors. */
export function publicJwkFromPem (pem: string, flag: string): PublicJwk {
  // a public key, nothing else: a certificate or a private key here is a mix-up of files
  if (!/^-----BEGIN PUBLIC KEY-----$/m.test(pem)) throw fgError('FG_ERR_PEM_INVALID', `${flag}: not a PEM public key (BEGIN PUBLIC KEY)`)
  let jwk: PublicJwk
  try {
    jwk = publicJwkOf(createPublicKey(pem))
  } catch {
    throw fgError('FG_ERR_PEM_INVALID', `${flag}: not a PEM P-256 public key`)
  }
  return jwk
}

/** The in-car steps the simulator models: a key card tapped (pair), a sale with no owner left (transfer), a scrapping (wipe). */
export type LocalKeyStep =
  | { step: 'pair'; jwk: PublicJwk; label: string }
  | { step: 'transfer'; jwk: PublicJwk; label: string }
  | { step: 'wipe' }

export async function applyLocalStep (store: KeyStore, s: LocalKeyStep, now: number): Promise<KeyChange | null> {
  if (s.step === 'wipe') {
    const w = wipeKeyList(store.list)
    store.commit(w.list)
    return w.change
  }
  const plan = s.step === 'pair' ? await pairOwner(store.list, s.jwk, s.label, now) : await transferTo(store.list, s.jwk, s.label, 'local', now)
  if (!plan.ok) throw fgError('FG_ERR_CONFIG_INVALID', `--${s.step === 'pair' ? 'pair' : 'transfer-to'}: ${plan.detail}`)
  if (plan.list === store.list) return null
  store.commit(plan.list)
  return plan.change
}
