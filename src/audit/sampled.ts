// Audit lines for refusals that come by the thousand (a reconnect storm over the
// connect rate, a load balancer without PROXY headers): the first refusal of a
// kind is written at once, then at most one line per second with how many were
// not written. Every refusal is still counted (the caller's metric); the log
// stays readable and cheap during a storm.
import type { AuditLogger } from './logger.js'

interface Window { suppressed: number; sample: Record<string, unknown> | undefined; timer: NodeJS.Timeout | undefined }

export class SampledAudit {
  readonly #log: AuditLogger
  readonly #windowMs: number
  readonly #windows = new Map<string, Window>()

  constructor (log: AuditLogger, windowMs = 1000) {
    this.#log = log
    this.#windowMs = windowMs
  }

  /** One refusal: `fields` is written now if this is the first of its evt and reason this second, else counted. */
  warn (evt: string, reason: string, fields: Record<string, unknown>, msg: string): void {
    const key = evt + ' ' + reason
    let w = this.#windows.get(key)
    if (w === undefined) { w = { suppressed: 0, sample: undefined, timer: undefined }; this.#windows.set(key, w) }
    if (w.timer !== undefined) {
      w.suppressed++
      w.sample = fields
      return
    }
    this.#log.warn({ evt, reason, ...fields }, msg)
    this.#arm(key, w, evt, reason, msg)
  }

  #arm (key: string, w: Window, evt: string, reason: string, msg: string): void {
    w.timer = setTimeout(() => {
      if (w.suppressed === 0) { this.#windows.delete(key); return }
      // the last one not written stands for them
      this.#log.warn({ evt, reason, ...w.sample, suppressed: w.suppressed, windowMs: this.#windowMs }, `${msg} (${w.suppressed} more in the last ${this.#windowMs} ms)`)
      w.suppressed = 0
      w.sample = undefined
      this.#arm(key, w, evt, reason, msg)
    }, this.#windowMs)
    w.timer.unref()
  }

  /** Write what is still counted and stop the timers. */
  close (): void {
    for (const [key, w] of this.#windows) {
      clearTimeout(w.timer)
      const [evt, reason] = key.split(' ') as [string, string]
      if (w.suppressed > 0) this.#log.warn({ evt, reason, ...w.sample, suppressed: w.suppressed, windowMs: this.#windowMs }, `refused (${w.suppressed} more not written)`)
    }
    this.#windows.clear()
  }
}
