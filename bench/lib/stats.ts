export function percentile (sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export function round (x: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** the middle value (the mean of the two middle ones for an even count); NaN for none */
export function median (xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
