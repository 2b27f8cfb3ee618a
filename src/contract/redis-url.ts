// The --redis value (a command-line contract, README "Redis and Sentinel"):
// a plain redis:// or rediss:// URL names one server; a redis+sentinel:// URL
// names the Sentinels that say which server is the master now:
//
//   redis+sentinel://[[user]:password@]host:port[,host:port...]/<master name>[/<db>][?sentinelUsername=..&sentinelPassword=..]
//
// (the form of the redis-sentinel-url convention). The password is the
// master's (and its replicas'); the Sentinels' own, if any, is a query
// parameter. Pure: no I/O; parsed once at start-up, a bad value is one line.

export interface SentinelAddress { readonly host: string; readonly port: number }

export type RedisTarget =
  | { readonly kind: 'server'; readonly url: string }
  | {
    readonly kind: 'sentinel'
    readonly sentinels: readonly SentinelAddress[]
    /** the master's name in the Sentinels' configuration */
    readonly name: string
    readonly username?: string
    readonly password?: string
    readonly db?: number
    readonly sentinelUsername?: string
    readonly sentinelPassword?: string
  }

export const SENTINEL_SCHEME = 'redis+sentinel:'
const SENTINEL_QUERY = ['sentinelUsername', 'sentinelPassword'] as const

/** The target a --redis value names; throws Error(problem) for a bad one (the caller names the flag). */
export function parseRedisTarget (text: string): RedisTarget {
  if (!text.startsWith(SENTINEL_SCHEME + '//')) {
    let u: URL
    try { u = new URL(text) } catch { throw new Error(`not a URL: "${redactRedisUrl(text)}"`) }
    if (!/^rediss?:$/.test(u.protocol)) throw new Error(`expected a redis://, rediss:// or redis+sentinel:// URL, got "${u.protocol}"`)
    return { kind: 'server', url: text }
  }
  const rest = text.slice(SENTINEL_SCHEME.length + 2)
  const at = rest.lastIndexOf('@', rest.indexOf('/') < 0 ? rest.length : rest.indexOf('/'))
  const auth = at >= 0 ? rest.slice(0, at) : ''
  const afterAuth = at >= 0 ? rest.slice(at + 1) : rest
  const q = afterAuth.indexOf('?')
  const hostsAndPath = q >= 0 ? afterAuth.slice(0, q) : afterAuth
  const query = new URLSearchParams(q >= 0 ? afterAuth.slice(q + 1) : '')
  const slash = hostsAndPath.indexOf('/')
  const hostList = slash >= 0 ? hostsAndPath.slice(0, slash) : hostsAndPath
  const path = slash >= 0 ? hostsAndPath.slice(slash + 1).split('/').filter((s) => s !== '') : []
  const sentinels = hostList.split(',').map((h) => sentinelAddress(h.trim()))
  if (path.length === 0) throw new Error('redis+sentinel:// needs the master\'s name after the hosts: redis+sentinel://host:26379,host:26379/<master name>')
  if (path.length > 2) throw new Error(`redis+sentinel:// takes /<master name>[/<db>], got "/${path.join('/')}"`)
  const name = decodeURIComponent(path[0]!)
  let db: number | undefined
  if (path[1] !== undefined) {
    if (!/^\d{1,5}$/.test(path[1])) throw new Error(`the database after the master's name must be a number, got "${path[1]}"`)
    db = Number(path[1])
  }
  for (const key of query.keys()) {
    if (!(SENTINEL_QUERY as readonly string[]).includes(key)) throw new Error(`unknown redis+sentinel:// parameter "${key}" (known: ${SENTINEL_QUERY.join(', ')})`)
  }
  const colon = auth.indexOf(':')
  const username = colon >= 0 ? auth.slice(0, colon) : auth
  const password = colon >= 0 ? auth.slice(colon + 1) : undefined
  return {
    kind: 'sentinel',
    sentinels,
    name,
    ...(username !== '' && colon >= 0 ? { username: decodeURIComponent(username) } : {}),
    ...(password !== undefined && password !== '' ? { password: decodeURIComponent(password) } : {}),
    // a user part alone (no colon) is a password, as in redis://secret@host
    ...(colon < 0 && auth !== '' ? { password: decodeURIComponent(auth) } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(query.get('sentinelUsername') ? { sentinelUsername: query.get('sentinelUsername')! } : {}),
    ...(query.get('sentinelPassword') ? { sentinelPassword: query.get('sentinelPassword')! } : {}),
  }
}

function sentinelAddress (text: string): SentinelAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/]+):(\d{1,5})$/.exec(text)
  if (!m) throw new Error(`each Sentinel is host:port, got "${text}"`)
  const port = Number(m[2])
  if (port < 1 || port > 65535) throw new Error(`Sentinel port out of range in "${text}"`)
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

/** The value without its passwords, for messages. */
export function redactRedisUrl (text: string): string {
  return text
    .replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_all, scheme: string, auth: string) => {
      const colon = auth.indexOf(':')
      return `${scheme}${colon >= 0 ? auth.slice(0, colon + 1) + '***' : '***'}@`
    })
    .replace(/(sentinelPassword=)[^&]*/i, '$1***')
}
