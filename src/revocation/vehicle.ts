// Revoke a car, not only a certificate: every certificate the registry
// (certs:<VIN>) knows for the VIN, rotation successors included, in one
// write + announcement, so every broker node closes their live sessions.
// The birth certificate is not in the registry and stays valid: it is the
// car's way back (a re-provisioning), cut by revoking it as a certificate.
import { isVin } from '../pki/vin.js'
import { fgError } from '../contract/errors.js'
import type { DeviceRegistry, RegistryRecord, RevocationEntry, RevocationStore } from '../stores/index.js'

/** what revoking a car writes: the registry says which certificates, the revocation store revokes them */
export interface VehicleStores {
  readonly revocations: RevocationStore
  readonly registry: DeviceRegistry
}

export interface RevokedVehicle {
  /** fingerprints revoked now */
  readonly revoked: readonly string[]
  /** fingerprints the registry had as revoked already (left as they were) */
  readonly already: readonly string[]
}

/**
 * Revoke every certificate the registry knows for `vin` that is not revoked
 * yet: superseded first (a crash between the steps leaves it marked), then
 * the revocation written and announced, then the registry says revoked.
 * Throws FG_ERR_CONFIG_INVALID for a string that is not a VIN. A certificate
 * issued for the VIN while this runs (a rotation answered meanwhile) is not
 * covered: run it again, or stop the car's provisioning first.
 */
export async function revokeVehicle ({ revocations, registry }: VehicleStores, vin: string, entry: RevocationEntry): Promise<RevokedVehicle> {
  if (!isVin(vin)) throw fgError('FG_ERR_CONFIG_INVALID', `${JSON.stringify(vin)}: not a VIN (17 characters, no I, O or Q)`)
  const records = await registry.get(vin)
  const live: Array<[string, RegistryRecord]> = []
  const already: string[] = []
  for (const [fp, r] of Object.entries(records)) {
    if (r.state === 'revoked') already.push(fp)
    else live.push([fp, r])
  }
  if (live.length === 0) return { revoked: [], already }
  for (const [fp, r] of live) if (r.state !== 'superseded') await registry.set(vin, fp, { ...r, state: 'superseded' })
  await revocations.revoke(live.map(([fingerprint]) => ({ fingerprint })), entry)
  for (const [fp, r] of live) await registry.set(vin, fp, { ...r, state: 'revoked' })
  return { revoked: live.map(([fp]) => fp), already }
}
