// Loggers made by createAuditLogger: their level, time and bindings are written in
// fleetgate's known format, so a hot line may be put together without pino (connect-line.ts).
const OWN_FORMAT = new WeakSet<object>()

export function markOwnFormat (log: object): void {
  OWN_FORMAT.add(log)
}

export function isOwnFormat (log: object): boolean {
  return OWN_FORMAT.has(log)
}
