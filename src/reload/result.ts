import type { FleetgateError } from '../contract/errors.js'

/** What fleetgate.reload() did. On failure nothing changed. */
export type ReloadResult =
  | { readonly ok: true; readonly kept: number; readonly closed: number; readonly roles: readonly string[] }
  | { readonly ok: false; readonly error: FleetgateError }
