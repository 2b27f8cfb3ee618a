// The one root logger. Redaction paths are constants in code, never config
// (pino docs "Safety"): no private key, payload, CSR, JWS or certificate is logged.
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino'
import { markOwnFormat } from './own-format.js'

/** the keys removed from every line, at its top level and one level down */
const REDACTED_KEYS = ['key', 'privateKey', 'password', 'payload', 'csr', 'jws', 'certificate'] as const

/** the same rule in pino's redact path syntax */
export const REDACT_PATHS = [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => `*.${k}`)]

export type AuditLogger = Logger

const REDACTED: ReadonlySet<string> = new Set(REDACTED_KEYS)

function hasRedactedKey (value: object): boolean {
  for (const k of REDACTED_KEYS) if (Object.hasOwn(value, k)) return true
  return false
}

/** `value` without its own redacted keys: itself when it has none, else a copy (an Error keeps its class, for pino's err serializer) */
function withoutRedactedKeys (value: object): object {
  if (!hasRedactedKey(value)) return value
  if (value instanceof Error) {
    const copy = Object.create(Object.getPrototypeOf(value) as object) as object
    for (const k of Reflect.ownKeys(value)) if (typeof k !== 'string' || !REDACTED.has(k)) Object.defineProperty(copy, k, Object.getOwnPropertyDescriptor(value, k)!)
    // Node 24's V8 makes `stack` an own accessor that reads the original error's internal
    // slot: copied as a descriptor it reads empty on the copy, so its value is copied instead
    if (!REDACTED.has('stack')) Object.defineProperty(copy, 'stack', { value: value.stack, writable: true, configurable: true, enumerable: false })
    return copy
  }
  const copy = (Array.isArray(value) ? Object.assign([], value) : { ...value }) as Record<string, unknown>
  for (const k of REDACTED_KEYS) delete copy[k]
  return copy
}

/**
 * REDACT_PATHS with `remove`, as pino's redact option would apply them, to a line's
 * object and to a child logger's bindings. A line without any of these keys (every
 * audit line fleetgate writes) is checked, not copied: pino's own redaction with
 * `*.` paths runs a redactor and a JSON.stringify per field of every line, about
 * half of an audit line's cost, and there is one line per CONNECT.
 */
/**
 * pino's isoTime, the same text (`,"time":"2026-12-07T17:21:00.123Z"`), with the
 * date part formatted once per second: a reconnect storm writes a line per car.
 */
let isoSecond = -1
let isoHead = ''
export function isoTime (): string { return isoTimeAt(Date.now()) }

/** isoTime at `now` (ms since the epoch, 1970-9999) */
export function isoTimeAt (now: number): string {
  const second = Math.floor(now / 1000)
  if (second !== isoSecond) { isoSecond = second; isoHead = new Date(second * 1000).toISOString().slice(0, 20) }
  const ms = now - second * 1000
  return `,"time":"${isoHead}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`
}

export function redacted (obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue
    if (REDACTED.has(k)) {
      out ??= { ...obj }
      delete out[k]
      continue
    }
    const v = obj[k]
    if (v === null || typeof v !== 'object') continue
    const w = withoutRedactedKeys(v)
    if (w !== v) (out ??= { ...obj })[k] = w
  }
  return out ?? obj
}

/**
 * Lines go to stdout with a synchronous write each: a line is with the kernel before
 * the decision it records is carried out, so a crash loses none, and no write waits
 * in a buffer. (An asynchronous destination hands every line to a libuv worker
 * thread and back: on a busy 2-core machine that handoff cost ~0.1-0.2 ms per
 * CONNECT, more than the line itself.) A stdout that stops draining stalls the
 * process rather than growing its memory.
 */
export function createAuditLogger (opts: { level?: LevelWithSilent; destination?: DestinationStream } = {}): AuditLogger {
  const root = pino({
    level: opts.level ?? 'info',
    base: { svc: 'fleetgate' },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }), log: redacted, bindings: redacted },
  }, opts.destination ?? pino.destination({ fd: 1, sync: true }))
  // pino gives a child logger's bindings no formatter (nor a child's own log formatter
  // ours): both are redacted here. Every child inherits this from the root.
  const pinoChild = root.child
  root.child = function redactedChild (this: AuditLogger, bindings, options) {
    const log = options?.formatters?.log
    const own = log ? { ...options, formatters: { ...options.formatters, log: (o: object) => redacted(log(o) as Record<string, unknown>) } } : options
    return pinoChild.call(this, redacted(bindings), own)
  } as AuditLogger['child']
  markOwnFormat(root)
  return root
}
