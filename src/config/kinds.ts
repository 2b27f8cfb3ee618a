// How each kind of option reads its value: text from a flag or an environment
// variable, or a number or boolean from a library caller. Every kind of
// schema.ts has its parser here (the mapped type makes a missing one a compile
// error); `bad(problem)` throws, and resolveConfig names the flag or variable.
import { parseDuration, parseSize } from './units.js'
import { parseAddressList } from './addresses.js'
import { parseRedisTarget } from '../contract/redis-url.js'
import type { EnumOption, NumberOption, OptionKind, OptionSpec } from './schema.js'

export type RawValue = string | number | boolean | readonly string[]

export type Parse = (raw: RawValue, text: string, spec: OptionSpec, bad: (problem: string) => never) => unknown

function wholeNumber (raw: RawValue, text: string, spec: OptionSpec, bad: (problem: string) => never, range: [number, number]): number {
  if (typeof raw === 'number' ? !Number.isInteger(raw) : !/^\d+$/.test(text)) bad(`expected a whole number, got "${text}"`)
  const value = Number(text)
  const { min = range[0], max = range[1] } = spec as NumberOption
  if (value < min || value > max) bad(`must be between ${min} and ${max}, got ${text}`)
  return value
}

function withinBounds (value: number, spec: OptionSpec, unit: string, text: string, bad: (problem: string) => never): number {
  const { min, max } = spec as NumberOption
  if (min !== undefined && value < min) bad(`must be at least ${min} ${unit}, got "${text}"`)
  if (max !== undefined && value > max) bad(`must be at most ${max} ${unit}, got "${text}"`)
  return value
}

export const PARSERS: { readonly [K in OptionKind]: Parse } = {
  port: (raw, text, spec, bad) => wholeNumber(raw, text, spec, bad, [1, 65535]),
  int: (raw, text, spec, bad) => wholeNumber(raw, text, spec, bad, [0, Number.MAX_SAFE_INTEGER]),
  duration (raw, text, spec, bad) {
    const ms = typeof raw === 'number' ? raw : parseDuration(text)
    if (ms === null || !Number.isFinite(ms) || ms < 0) bad(`expected a duration like 10s, 5m, 24h, got "${text}"`)
    return withinBounds(ms as number, spec, 'ms', text, bad)
  },
  size (raw, text, spec, bad) {
    const bytes = typeof raw === 'number' ? raw : parseSize(text)
    if (bytes === null || !Number.isInteger(bytes)) bad(`expected a size like 131072, 128KiB or 1MiB, got "${text}"`)
    return withinBounds(bytes as number, spec, 'bytes', text, bad)
  },
  bool (raw, text, _spec, bad) {
    if (typeof raw === 'boolean') return raw
    if (/^(1|true|yes|on)$/i.test(text)) return true
    if (/^(0|false|no|off)$/i.test(text)) return false
    return bad(`expected true or false, got "${text}"`)
  },
  url (_raw, text, _spec, bad) {
    // redis://, rediss:// or redis+sentinel:// (src/contract/redis-url.ts)
    try { parseRedisTarget(text) } catch (err) { bad((err as Error).message) }
    return text
  },
  urls (_raw, text, _spec, bad) {
    const list = text.split(',').map((u) => u.trim()).filter((u) => u !== '')
    if (list.length === 0) bad('expected one or more http:// or https:// URLs')
    for (const u of list) {
      let url: URL | undefined
      try { url = new URL(u) } catch { bad(`not a URL: "${u}"`) }
      if (!/^https?:$/.test(url!.protocol)) bad(`expected an http:// or https:// URL, got "${url!.protocol}"`)
    }
    return Object.freeze(list)
  },
  enum (_raw, text, spec, bad) {
    const { values } = spec as EnumOption
    if (!values.includes(text)) bad(`expected one of ${values.join(', ')}, got "${text}"`)
    return text
  },
  addresses (_raw, text, _spec, bad) {
    const list = parseAddressList(text)
    if (!list.ok) bad(list.problem)
    return text
  },
  path: nonEmpty,
  string: nonEmpty,
}

function nonEmpty (_raw: RawValue, text: string, _spec: OptionSpec, bad: (problem: string) => never): string {
  if (text === '') bad('must not be empty')
  return text
}
