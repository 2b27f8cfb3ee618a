// Operator errors: FG_ERR_<AREA>_<WHAT>, one line, exit 2 (ARCHITECTURE.md "Reasons and error codes").
// Every code is defined here and only here; test/unit/errors-doc.test.ts keeps
// the README table in step with this list.

export const ERROR_CODES = {
  FG_ERR_CONFIG_INVALID: 'a flag or environment variable has a bad value',
  FG_ERR_CONFIG_MISSING: 'a required flag is missing',
  FG_ERR_FILE_UNREADABLE: 'a file named by a flag cannot be read',
  FG_ERR_PEM_INVALID: 'a file does not hold the PEM object it should',
  FG_ERR_KEY_MISMATCH: 'a private key does not match its certificate',
  FG_ERR_POLICY_SYNTAX: 'the policy file is not valid YAML or JSON',
  FG_ERR_POLICY_UNKNOWN_KEY: 'the policy file has a key fleetgate does not know',
  FG_ERR_POLICY_INVALID: 'a policy value is of the wrong shape or refers to something unknown',
  FG_ERR_HOOK_NOT_SUPPORTED: 'composeHooks was given a hook name Aedes does not have, or a non-function',
  FG_ERR_PKI_EXISTS: 'pki init would overwrite an existing PKI directory',
  FG_ERR_PKI_INVALID: 'a PKI directory or certificate is incomplete or inconsistent',
  FG_ERR_REDIS_UNAVAILABLE: 'the Redis server named by --redis cannot be reached',
  FG_ERR_REDIS_CLUSTER: '--redis names a Redis Cluster, which fleetgate refuses (its pub/sub between nodes loses messages there)',
  FG_ERR_REDIS_NOT_REPLICATED: 'a write reached the Redis master but no replica confirmed it in time (--redis-min-replicas): a failover now could lose it (exit 3)',
  FG_ERR_STORE_INVALID: 'the embedded store file is corrupt',
  FG_ERR_STORE_WRITE: 'the embedded store file cannot be written (a full disk?); nothing was stored',
  FG_ERR_CRL_INVALID: 'a CRL cannot be parsed',
  FG_ERR_CRL_SIGNATURE: 'a CRL is not signed by the given issuer',
  FG_ERR_USAGE: 'the command line is not understood',
  FG_ERR_CERT_REVOKED: 'a revoked certificate\'s state cannot change: revocation is final (activate, deactivate, quarantine refused)',
  FG_ERR_STATES_UNSUPPORTED: 'the revocation store keeps no certificate states or operator log (a user\'s store without setState/history)',
  FG_ERR_LISTEN: 'the listener cannot bind its port',
  FG_ERR_PROVISIONER_CONNECT: 'the provisioner could not connect to the broker (down, or its certificate refused)',
  FG_ERR_RELOAD_FAILED: 'a reload (SIGHUP) could not read its files; the running configuration was kept',
  FG_ERR_ADMIN_UNREACHABLE: 'fleetgate drain could not reach the node\'s metrics/admin port, or the node refused the drain',
} as const

export type FleetgateErrorCode = keyof typeof ERROR_CODES

/**
 * The exit code of each error code: 2 (the operator's input) unless listed. A
 * write that was made but is not durable yet is not a usage error: scripts tell
 * it apart (retry, or check replication) by its own exit code.
 */
export const EXIT_CODES: Readonly<Partial<Record<FleetgateErrorCode, number>>> = {
  FG_ERR_REDIS_NOT_REPLICATED: 3,
}

export function exitCodeOf (code: FleetgateErrorCode): number {
  return EXIT_CODES[code] ?? 2
}

export class FleetgateError extends Error {
  readonly code: FleetgateErrorCode
  constructor (code: FleetgateErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'FleetgateError'
  }

  /** The one line an operator sees. */
  toLine (): string { return `${this.code}: ${this.message}` }
}

export function fgError (code: FleetgateErrorCode, message: string, cause?: unknown): FleetgateError {
  return new FleetgateError(code, message, cause === undefined ? undefined : { cause })
}

export function isFleetgateError (err: unknown): err is FleetgateError {
  return err instanceof FleetgateError
}
