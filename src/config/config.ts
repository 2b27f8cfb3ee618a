// Parse and validate the serve configuration once; the result is frozen.
// A bad value throws one FleetgateError naming the flag (or env var) and the problem.
import { fgError } from '../contract/errors.js'
import { SERVE_OPTIONS, flagOf, envOf, type OptionSpec, type OptionsOf, type ServeOptionName } from './schema.js'
import { PARSERS, type RawValue } from './kinds.js'

/** The resolved `fleetgate serve` configuration: its type is derived from SERVE_OPTIONS. */
export type Config = { readonly [K in keyof ServeOptions]: ServeOptions[K] }
type ServeOptions = OptionsOf<typeof SERVE_OPTIONS>

export type ConfigInput = { readonly [K in ServeOptionName]?: RawValue | undefined }

// Configs made by resolveConfig: handed to it again (startBroker -> createFleetgate), they are not re-read.
const RESOLVED = new WeakSet<object>()

function convert (spec: OptionSpec, raw: RawValue, where: string): unknown {
  const bad = (problem: string): never => { throw fgError('FG_ERR_CONFIG_INVALID', `${where}: ${problem}`) }
  return PARSERS[spec.kind](raw, String(raw).trim(), spec, bad)
}

/**
 * Resolve the named options from explicit values (flags, or a library caller's
 * object), then environment variables, then defaults. Options given that are
 * not named are refused.
 */
export function resolveOptions<N extends ServeOptionName> (names: readonly N[], input: ConfigInput, env: NodeJS.ProcessEnv = {}): Pick<Config, N> {
  const out: Record<string, unknown> = {}
  for (const name of Object.keys(input)) {
    if (!(names as readonly string[]).includes(name)) throw fgError('FG_ERR_CONFIG_INVALID', `unknown option "${name}"`)
  }
  for (const name of names) {
    const spec: OptionSpec = SERVE_OPTIONS[name]
    const given = input[name]
    const envName = envOf(name)
    if (given !== undefined) out[name] = convert(spec, given, flagOf(name))
    else if (env[envName] !== undefined && env[envName] !== '') out[name] = convert(spec, env[envName]!, envName)
    else if (spec.default !== undefined) out[name] = spec.default
  }
  return out as Pick<Config, N>
}

const ALL = Object.keys(SERVE_OPTIONS) as ServeOptionName[]

/**
 * The whole serve configuration: every option as resolveOptions reads it, then
 * the rules between options. A Config this function returned is returned as is.
 */
export function resolveConfig (input: ConfigInput | Config = {}, env: NodeJS.ProcessEnv = {}): Config {
  if (RESOLVED.has(input)) return input as Config
  const out = resolveOptions(ALL, input, env)
  const tlsGiven = (['ca', 'cert', 'key'] as const).filter((k) => out[k] !== undefined)
  if (tlsGiven.length > 0 && tlsGiven.length < 3) {
    const missing = (['ca', 'cert', 'key'] as const).filter((k) => out[k] === undefined).map(flagOf)
    throw fgError('FG_ERR_CONFIG_MISSING', `${missing.join(' and ')} must be given with ${tlsGiven.map(flagOf).join(', ')} (or none of them, for the dev PKI)`)
  }
  const config = Object.freeze(out)
  RESOLVED.add(config)
  return config
}
