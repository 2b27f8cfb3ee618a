// Parse and validate the serve configuration once; the result is frozen.
// A bad value throws one FleetgateError naming the flag (or env var) and the problem.
import { fgError } from '../contract/errors.js'
import { SERVE_OPTIONS, flagOf, envOf, type OptionSpec, type ServeOptionName } from './schema.js'
import { parseDuration, parseSize } from './units.js'

export interface Config {
  readonly port: number
  readonly host: string
  readonly ca?: string
  readonly cert?: string
  readonly key?: string
  readonly devPki: string
  readonly policy?: string
  readonly redis?: string
  readonly redisPrefix: string
  readonly dataDir: string
  readonly maxPacketSize: number
  readonly connectTimeout: number
  readonly handshakeTimeout: number
  readonly maxConnectionsPerIp: number
  /** PUBLISH packets per second per connection; 0: no limit */
  readonly maxPublishRate: number
  readonly keepaliveMax: number
  readonly maxTopicLevels: number
  readonly maxInflightQos2: number
  readonly maxRetainedSize: number
  readonly maxOutboundBuffer: number
  readonly slowConsumerTimeout: number
  readonly maxOfflineMessages: number
  readonly sessionExpiry: number
  readonly revocationRecheck: number
  readonly revocationCache: number
  readonly revocationTimeout: number
  readonly revocationFailOpen: boolean
  readonly enforceSignedCommands: boolean
  readonly metricsPort?: number
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

export type ConfigInput = { readonly [K in ServeOptionName]?: string | number | boolean | undefined }

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])

function convert (name: string, spec: OptionSpec, raw: string | number | boolean, where: string): unknown {
  const bad = (problem: string) => fgError('FG_ERR_CONFIG_INVALID', `${where}: ${problem}`)
  const text = String(raw).trim()
  let value: unknown
  switch (spec.kind) {
    case 'port': case 'int': {
      if (typeof raw === 'number' ? !Number.isInteger(raw) : !/^\d+$/.test(text)) throw bad(`expected a whole number, got "${text}"`)
      value = Number(text)
      const [min, max] = spec.kind === 'port' ? [name === 'port' ? 0 : 1, 65535] : [spec.min ?? 0, spec.max ?? Number.MAX_SAFE_INTEGER]
      if ((value as number) < min || (value as number) > max) throw bad(`must be between ${min} and ${max}, got ${text}`)
      return value
    }
    case 'duration': {
      const ms = typeof raw === 'number' ? raw : parseDuration(text)
      if (ms === null || !Number.isFinite(ms) || ms < 0) throw bad(`expected a duration like 10s, 5m, 24h, got "${text}"`)
      if (spec.min !== undefined && ms < spec.min) throw bad(`must be at least ${spec.min} ms, got "${text}"`)
      if (spec.max !== undefined && ms > spec.max) throw bad(`must be at most ${spec.max} ms, got "${text}"`)
      return ms
    }
    case 'size': {
      const bytes = typeof raw === 'number' ? raw : parseSize(text)
      if (bytes === null || !Number.isInteger(bytes)) throw bad(`expected a size like 131072, 128KiB or 1MiB, got "${text}"`)
      if (spec.min !== undefined && bytes < spec.min) throw bad(`must be at least ${spec.min} bytes, got "${text}"`)
      if (spec.max !== undefined && bytes > spec.max) throw bad(`must be at most ${spec.max} bytes, got "${text}"`)
      return bytes
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw
      if (/^(1|true|yes|on)$/i.test(text)) return true
      if (/^(0|false|no|off)$/i.test(text)) return false
      throw bad(`expected true or false, got "${text}"`)
    }
    case 'url': {
      let u: URL
      try { u = new URL(text) } catch { throw bad(`not a URL: "${text}"`) }
      if (!/^rediss?:$/.test(u.protocol)) throw bad(`expected a redis:// or rediss:// URL, got "${u.protocol}"`)
      return text
    }
    case 'level':
      if (!LEVELS.has(text)) throw bad(`expected one of ${[...LEVELS].join(', ')}, got "${text}"`)
      return text
    case 'path': case 'string':
      if (text === '') throw bad('must not be empty')
      return text
  }
}

/**
 * Resolve the configuration from explicit values (flags, or a library caller's
 * object) then environment variables, then defaults.
 */
export function resolveConfig (input: ConfigInput = {}, env: NodeJS.ProcessEnv = {}): Config {
  const out: Record<string, unknown> = {}
  for (const name of Object.keys(input)) {
    if (!(name in SERVE_OPTIONS)) throw fgError('FG_ERR_CONFIG_INVALID', `unknown option "${name}"`)
  }
  for (const [name, spec] of Object.entries(SERVE_OPTIONS) as [ServeOptionName, OptionSpec][]) {
    const given = input[name]
    const envName = envOf(name)
    if (given !== undefined) out[name] = convert(name, spec, given, flagOf(name))
    else if (env[envName] !== undefined && env[envName] !== '') out[name] = convert(name, spec, env[envName]!, envName)
    else if (spec.default !== undefined) out[name] = spec.default
  }
  const tlsGiven = ['ca', 'cert', 'key'].filter((k) => out[k] !== undefined)
  if (tlsGiven.length > 0 && tlsGiven.length < 3) {
    const missing = ['ca', 'cert', 'key'].filter((k) => out[k] === undefined).map(flagOf)
    throw fgError('FG_ERR_CONFIG_MISSING', `${missing.join(' and ')} must be given with ${tlsGiven.map(flagOf).join(', ')} (or none of them, for the dev PKI)`)
  }
  return Object.freeze(out) as unknown as Config
}
