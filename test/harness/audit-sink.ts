// An in-memory pino destination: tests assert on parsed audit lines (pino's sink()).
import { Writable } from 'node:stream'
import { createAuditLogger, type AuditLogger } from '../../src/audit/index.js'

export type AuditLine = Record<string, unknown> & { evt?: string; reason?: string }

export class AuditSink extends Writable {
  readonly lines: AuditLine[] = []
  readonly raw: string[] = []
  #waiters: Array<() => void> = []
  readonly logger: AuditLogger

  constructor (level: 'info' | 'debug' = 'info') {
    super()
    this.logger = createAuditLogger({ level, destination: this })
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue
      this.raw.push(line)
      this.lines.push(JSON.parse(line) as AuditLine)
    }
    const w = this.#waiters; this.#waiters = []
    for (const f of w) f()
    cb()
  }

  /** lines of `evt` whose fields equal `match`'s (a nested object matches field by field) */
  find (evt: string, match: Record<string, unknown> = {}): AuditLine[] {
    return this.lines.filter((l) => l.evt === evt && matches(l, match))
  }

  async waitFor (evt: string, match: Record<string, unknown> = {}, timeoutMs = 5000): Promise<AuditLine> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.find(evt, match)[0]
      if (hit) return hit
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no audit line ${evt} ${JSON.stringify(match)} within ${timeoutMs} ms; saw: ${this.lines.map((l) => `${l.evt}:${l.reason ?? ''}`).join(', ')}`)
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, Math.min(left, 200)); this.#waiters.push(() => { clearTimeout(t); resolve() }) })
    }
  }

  clear (): void { this.lines.length = 0; this.raw.length = 0 }
}

function matches (value: unknown, match: Record<string, unknown>): boolean {
  if (typeof value !== 'object' || value === null) return false
  return Object.entries(match).every(([k, v]) => {
    const got = (value as Record<string, unknown>)[k]
    return typeof v === 'object' && v !== null ? matches(got, v as Record<string, unknown>) : got === v
  })
}
