// Parse and validate the serve configuration once; the result is frozen.
// A bad value throws one FleetgateError naming the flag (or env var) and the problem.
import { fgError } from '../contract/errors.js'
import { SERVE_OPTIONS, flagOf, envOf, type OptionSpec, type OptionsOf, type ServeOptionName } from './schema.js'
import { PARSERS, type RawValue } from './kinds.js'
import { resolveGroups } from './tls-groups.js'

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
const TLS = ['ca', 'cert', 'key'] as const

/**
 * The broker's TLS material comes from --ca, --cert and --key, all three, or
 * with --dev from the dev PKI; serve never makes keys (`fleetgate pki dev` does).
 */
function checkTlsSource (c: Pick<Config, 'ca' | 'cert' | 'key' | 'dev'>): void {
  const given = TLS.filter((k) => c[k] !== undefined).map(flagOf)
  if (c.dev) {
    if (given.length > 0) throw fgError('FG_ERR_CONFIG_INVALID', `--dev takes the TLS files from the dev PKI: give --dev or ${given.join(', ')}, not both`)
    return
  }
  if (given.length === 0) throw fgError('FG_ERR_CONFIG_MISSING', '--ca, --cert and --key are required; for a development PKI run "fleetgate pki dev", then "fleetgate serve --dev"')
  if (given.length < 3) {
    const missing = TLS.filter((k) => c[k] === undefined).map(flagOf)
    throw fgError('FG_ERR_CONFIG_MISSING', `${missing.join(' and ')} must be given with ${given.join(', ')} (or none of them, with --dev)`)
  }
}

/** --workers: a count or auto; workers share sessions, ownership and pub/sub through Redis only */
function checkWorkers (c: Pick<Config, 'workers' | 'redis'>): void {
  if (c.workers === undefined) return
  if (workerCount(c.workers) === null) throw fgError('FG_ERR_CONFIG_INVALID', `--workers ${c.workers}: expected a number from 1 to ${MAX_WORKERS}, or auto`)
  if (c.redis === undefined) throw fgError('FG_ERR_CONFIG_INVALID', '--workers needs --redis: worker processes share sessions, clientId owners and messages through Redis, as cluster nodes do')
}

export const MAX_WORKERS = 256

/** the number of worker processes --workers asks for (auto: `cores`), or null when the text is neither */
export function workerCount (text: string, cores = 1): number | null {
  if (text === 'auto') return Math.max(1, cores)
  if (!/^\d+$/.test(text)) return null
  const n = Number(text)
  return n >= 1 && n <= MAX_WORKERS ? n : null
}

/** A PROXY header is believed only from listed balancers: --proxy-protocol needs --proxy-from, and the reverse. */
function checkProxyProtocol (c: Pick<Config, 'proxyProtocol' | 'proxyFrom'>): void {
  if (c.proxyProtocol && c.proxyFrom === undefined) throw fgError('FG_ERR_CONFIG_MISSING', '--proxy-protocol needs --proxy-from: the addresses of the load balancers allowed to send PROXY headers')
  if (!c.proxyProtocol && c.proxyFrom !== undefined) throw fgError('FG_ERR_CONFIG_INVALID', '--proxy-from is given without --proxy-protocol: add --proxy-protocol, or drop --proxy-from')
}

/**
 * The whole serve configuration: every option as resolveOptions reads it, then
 * the rules between options. A Config this function returned is returned as is.
 */
export function resolveConfig (input: ConfigInput | Config = {}, env: NodeJS.ProcessEnv = {}): Config {
  if (RESOLVED.has(input)) return input as Config
  const out = resolveOptions(ALL, input, env)
  checkTlsSource(out)
  // the group names this OpenSSL knows are known only at run time
  const fromEnv = (input as ConfigInput).tlsGroups === undefined && !!env[envOf('tlsGroups')]
  const groups = resolveGroups(out.tlsGroups, (input as ConfigInput).tlsGroups !== undefined || fromEnv)
  if (!groups.ok) throw fgError('FG_ERR_CONFIG_INVALID', `${fromEnv ? envOf('tlsGroups') : flagOf('tlsGroups')}: ${groups.problem}`)
  checkWorkers(out)
  checkProxyProtocol(out)
  const config = Object.freeze({ ...out, tlsGroups: groups.groups })
  RESOLVED.add(config)
  return config
}
