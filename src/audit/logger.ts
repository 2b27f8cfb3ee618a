// The one root logger. Redaction paths are constants in code, never config
// (pino docs "Safety"): no private key, payload, CSR, JWS or certificate is logged.
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino'

export const REDACT_PATHS = [
  'key', 'privateKey', 'password', 'payload', 'csr', 'jws', 'certificate',
  '*.key', '*.privateKey', '*.password', '*.payload', '*.csr', '*.jws', '*.certificate',
]

export type AuditLogger = Logger

export function createAuditLogger (opts: { level?: LevelWithSilent; destination?: DestinationStream } = {}): AuditLogger {
  return pino({
    level: opts.level ?? 'info',
    base: { svc: 'fleetgate' },
    redact: { paths: REDACT_PATHS, remove: true },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, opts.destination ?? pino.destination({ fd: 1, sync: false }))
}
