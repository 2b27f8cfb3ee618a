// Read everything a reload changes, all or nothing: a bad file leaves the
// running configuration as it was.
import { loadTlsMaterial, type LoadedTlsMaterial } from '../tls/index.js'
import { loadPolicyFile, type Policy } from '../policy/index.js'
import { fgError, isFleetgateError, type FleetgateError } from '../contract/errors.js'
import { sha256Hex } from '../identity/index.js'

export interface Reloadable {
  readonly material: LoadedTlsMaterial
  readonly policy: Policy
  /** SHA-256 fingerprints of every certificate in the trust bundle */
  readonly trusted: ReadonlySet<string>
}

export type LoadResult = { ok: true; value: Reloadable } | { ok: false; error: FleetgateError }

export function trustedFingerprints (material: LoadedTlsMaterial): ReadonlySet<string> {
  return new Set(material.caDer.map((der) => sha256Hex(der)))
}

export function loadReloadable (paths: { ca: string; cert: string; key: string }, policyPath: string): LoadResult {
  try {
    const material = loadTlsMaterial(paths)
    const policy = loadPolicyFile(policyPath)
    return { ok: true, value: { material, policy, trusted: trustedFingerprints(material) } }
  } catch (err) {
    return { ok: false, error: isFleetgateError(err) ? err : fgError('FG_ERR_RELOAD_FAILED', String((err as Error)?.message ?? err), err) }
  }
}
