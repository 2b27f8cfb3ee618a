// Parsers for human-written values. Each returns null when the text is not valid.

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "10s", "5m", "24h", "30d", "250ms"; a bare number means seconds. Returns milliseconds. */
export function parseDuration (text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text)
  if (!m) return null
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!
  return Number.isFinite(ms) ? Math.round(ms) : null
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1 << 20, mb: 1 << 20, mib: 1 << 20 }

/** "131072", "128KiB", "128k", "1MiB". Returns bytes. */
export function parseSize (text: string): number | null {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) return null
  const unit = SIZE_UNITS[m[2]!.toLowerCase()]
  return unit === undefined ? null : Number(m[1]) * unit
}

export function formatDuration (ms: number): string {
  for (const [u, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`
  }
  return `${ms}ms`
}

export function formatSize (bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)}MiB`
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KiB`
  return `${bytes}`
}
