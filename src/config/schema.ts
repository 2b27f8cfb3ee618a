// Every `fleetgate serve` option in one table. Each entry says its kind (how its
// text is read, and the type of its value), default, bounds, help and, when it
// is not FLEETGATE_<FLAG>, its environment variable. The flag is the name in
// kebab-case. The Config type, the CLI flags, the environment variables, the
// defaults and the help all come from here: adding an option is one entry.
import { formatDuration, formatSize } from './units.js'

/** the type of the value each kind resolves to ('enum': one of its `values`) */
interface KindValue {
  port: number
  int: number
  duration: number
  size: number
  path: string
  url: string
  /** http:// or https:// URLs, comma-separated or the flag repeated */
  urls: readonly string[]
  /** addresses and CIDR blocks, comma-separated, as given (checked: parseAddressList) */
  addresses: string
  string: string
  bool: boolean
}

export type OptionKind = keyof KindValue | 'enum'

interface Described {
  readonly help: string
  /** environment variable; default FLEETGATE_<FLAG> */
  readonly env?: string
}

/** port and int: whole numbers; duration: milliseconds (text: 10s, 5m); size: bytes (text: 128KiB) */
export interface NumberOption extends Described {
  readonly kind: 'port' | 'int' | 'duration' | 'size'
  readonly default?: number
  /** smallest accepted (port: 1 unless given) */
  readonly min?: number
  readonly max?: number
}
/** path and string: any non-empty text; url: a redis://, rediss:// or redis+sentinel:// URL; addresses: IPs and CIDR blocks, comma-separated */
export interface TextOption extends Described { readonly kind: 'path' | 'url' | 'string' | 'addresses'; readonly default?: string }
/** http(s) URLs: the flag may be repeated, or the URLs separated by commas (the environment variable) */
export interface UrlListOption extends Described { readonly kind: 'urls'; readonly default?: undefined }
/** a switch; one that defaults to true also gets --no-<flag> */
export interface BoolOption extends Described { readonly kind: 'bool'; readonly default?: boolean }
export interface EnumOption extends Described { readonly kind: 'enum'; readonly values: readonly string[]; readonly default?: string }

export type OptionSpec = NumberOption | TextOption | UrlListOption | BoolOption | EnumOption

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export const SERVE_OPTIONS = {
  port: { kind: 'port', default: 8883, min: 0, help: 'TLS port of the MQTT listener' },
  host: { kind: 'string', default: '0.0.0.0', help: 'address to listen on' },
  ca: { kind: 'path', help: 'PEM trust bundle (the fleet root CA); required unless --dev' },
  cert: { kind: 'path', help: 'PEM server certificate chain (leaf first); required unless --dev' },
  key: { kind: 'path', help: 'PEM server private key; required unless --dev' },
  dev: { kind: 'bool', default: false, help: 'use the dev PKI in --dev-pki (made by "fleetgate pki dev", never by serve): its root CA, broker certificate and key, and its policy.yaml' },
  devPki: { kind: 'path', default: 'certs/dev', help: 'directory of the dev PKI: made by "fleetgate pki dev", used by --dev' },
  policy: { kind: 'path', help: 'policy file (YAML or JSON); default: with --dev the dev PKI\'s policy.yaml, else the shipped default policy' },
  tlsGroups: { kind: 'string', default: 'X25519MLKEM768:X25519:P-256:P-384:P-521', help: 'key exchange groups accepted, in order of preference, separated by ":" (X25519MLKEM768: hybrid post-quantum, OpenSSL 3.5+; the default drops it on an older OpenSSL); an unknown group refuses to start' },
  tlsResumption: { kind: 'enum', values: ['on', 'off'], default: 'on', help: 'TLS session tickets: a car that comes back resumes its TLS session (no certificate signatures), judged at CONNECT exactly like a full handshake (chain rebuilt from --ca, revocation, expiry)' },
  tlsTicketKeys: { kind: 'path', help: 'file holding the secret every node derives its ticket keys from (32+ bytes, base64 or hex, one line); default: with --redis a secret shared through Redis, else one made by this process' },
  tlsTicketRotation: { kind: 'duration', default: 3_600_000, min: 1000, max: 604_800_000, help: 'ticket keys rotate this often; a ticket lives at most this long, and the previous key is still accepted for one rotation' },
  redis: { kind: 'url', env: 'REDIS_URL', help: 'Redis URL: revocation, MQTT sessions and pub/sub between nodes (absent: embedded store); redis+sentinel://host:port,host:port/<master name> follows the master Sentinel names; a Redis Cluster is refused' },
  redisMinReplicas: { kind: 'int', min: 0, max: 16, help: 'a certificate state change (revoke, CRL import, the registry) succeeds only once this many replicas confirm it (WAIT), else FG_ERR_REDIS_NOT_REPLICATED (exit 3); default 1 with redis+sentinel://, 0 with a plain URL' },
  redisReplicaTimeout: { kind: 'duration', default: 2000, min: 10, max: 60_000, help: 'how long a certificate state change waits for its replicas (--redis-min-replicas)' },
  redisPrefix: { kind: 'string', default: 'fleetgate:', help: 'prefix of the Redis keys and channels of the revocation schema' },
  dataDir: { kind: 'path', default: './.fleetgate', help: 'directory of the embedded revocation store' },
  maxPacketSize: { kind: 'size', default: 128 * 1024, min: 1024, max: 256 * 1024 * 1024, help: 'largest MQTT packet accepted; a larger one closes the connection (packet_too_large)' },
  connectTimeout: { kind: 'duration', default: 10_000, min: 100, max: 600_000, help: 'time allowed between TLS handshake and CONNECT (connect_timeout)' },
  handshakeTimeout: { kind: 'duration', default: 5_000, min: 100, max: 120_000, help: 'time allowed for the TLS handshake (and, with --proxy-protocol, as long again for the PROXY header before it)' },
  maxConnectionsPerIp: { kind: 'int', default: 50, min: 1, max: 1_000_000, help: 'concurrent connections from one client address (too_many_connections); with --proxy-protocol the address is the one in the PROXY header' },
  maxConnectRate: { kind: 'int', default: 0, min: 0, max: 1_000_000, help: 'new TCP connections accepted per second by this node (token bucket, burst 1 s of it); over it a connection is closed at accept, before its TLS handshake costs anything (connect_rate_exceeded); size it to the handshakes the node can do ("npm run bench -- storm-overload"); 0: no limit' },
  maxHandshakes: { kind: 'int', default: 0, min: 0, max: 1_000_000, help: 'TLS handshakes in progress at once on this node (process); a new connection past it is closed at accept (too_many_handshakes): a handshake never waits behind more than this, whatever CPU the node gets; size it to --max-connect-rate times the time a handshake takes end to end, round trips to the cars included (1-2 s over cellular); 0: no limit' },
  maxConnections: { kind: 'int', default: 0, min: 0, max: 10_000_000, help: 'open TCP connections on this node (process), handshakes included; one more is closed at accept (max_connections_reached); 0: no limit' },
  proxyProtocol: { kind: 'bool', default: false, help: 'every connection starts with a PROXY protocol header (v1 or v2, e.g. HAProxy send-proxy-v2) from a load balancer in --proxy-from: the client address in it is the one limits, audit and metrics use; a connection without a valid header within --handshake-timeout is closed before TLS (proxy_header_missing, proxy_header_invalid, proxy_header_timeout, proxy_source_denied)' },
  proxyFrom: { kind: 'addresses', help: 'the load balancers allowed to send PROXY headers: addresses and CIDR blocks separated by commas (10.0.0.0/8,2001:db8::/32,127.0.0.1); required with --proxy-protocol' },
  maxPublishRate: { kind: 'int', default: 1000, min: 0, max: 1_000_000, help: 'PUBLISH packets per second per connection, burst 2 s of it; over it QoS 0 is dropped, persistent excess closes the connection (rate_limited); 0: no limit' },
  keepaliveMax: { kind: 'duration', default: 1_200_000, min: 1000, max: 65_535_000, help: 'largest MQTT keepalive honoured; 0 or larger is clamped to this' },
  maxOfflineMessages: { kind: 'int', default: 10_080, min: 0, max: 100_000_000, help: 'messages queued per persistent session; past it the oldest are dropped (offline_queue_full); 0: unbounded' },
  sessionExpiry: { kind: 'duration', default: 604_800_000, min: 1000, max: 31_536_000_000, help: 'a persistent session not resumed within this is removed with its queue and subscriptions (session_expired)' },
  maxTopicLevels: { kind: 'int', default: 16, min: 1, max: 100, help: 'deepest topic or filter accepted' },
  maxRetainedSize: { kind: 'size', default: 8 * 1024, min: 16, max: 256 * 1024 * 1024, help: 'largest retained payload (a retained PUBLISH or Will on one of the role\'s retain topics); larger: retain_denied' },
  maxInflightQos2: { kind: 'int', default: 1000, min: 1, max: 65_535, help: 'unreleased QoS 2 PUBLISHes (no PUBREL yet) stored per clientId, across reconnects and nodes; one more closes the connection' },
  maxOutboundBuffer: { kind: 'size', default: 1024 * 1024, min: 64 * 1024, max: 1024 * 1024 * 1024, help: 'bytes written to one connection and not yet taken by it; past it QoS 0 deliveries to it are dropped, QoS 1/2 of a persistent session wait in its queue (slow_consumer)' },
  slowConsumerTimeout: { kind: 'duration', default: 10_000, min: 100, max: 600_000, help: 'a connection whose outbound buffer went past --max-outbound-buffer and has not drained within this is closed (slow_consumer)' },
  revocationRecheck: { kind: 'duration', default: 30_000, min: 1000, max: 86_400_000, help: 'period of the re-check of every live session against the revocation store' },
  revocationCache: { kind: 'duration', default: 60_000, min: 0, max: 86_400_000, help: 'how long a clean revocation answer may stand in for the store when it is unreachable' },
  revocationTimeout: { kind: 'duration', default: 1_000, min: 50, max: 60_000, help: 'bound on every revocation store call' },
  revocationFailOpen: { kind: 'bool', default: false, help: 'admit clients when the revocation store is unreachable (logged loudly)' },
  expiryWarning: { kind: 'duration', default: 14 * 86_400_000, min: 0, max: 3_650 * 86_400_000, help: 'a client certificate (or a CA above it) that expires within this is audited cert.expiring at connect and counted (fleetgate_certificates_expiring_total); 0: never' },
  crlUrl: { kind: 'urls', help: 'a CRL to fetch over HTTP(S) (DER or PEM), signed by a CA of --ca or of --cert\'s chain; repeat the flag for several; kept under --data-dir/crl for restarts, fetched again every --crl-refresh and before its nextUpdate; its revocations end live sessions' },
  crlDp: { kind: 'bool', default: false, help: 'also fetch the CRLs named by CRL Distribution Points (http/https): those of the --ca and --cert CA certificates at start (needed by every connect, like --crl-url), and a client certificate\'s own at its first connect (needed by the certificates that name it); same checks, refresh and --crl-stale as --crl-url' },
  crlRefresh: { kind: 'duration', default: 3_600_000, min: 1000, max: 604_800_000, help: 'longest time between two fetches of a --crl-url (a CRL is fetched earlier when its nextUpdate comes sooner)' },
  crlStale: { kind: 'enum', values: ['refuse', 'use'], default: 'refuse', help: 'a --crl-url CRL past its nextUpdate with no newer one fetched: refuse the certificates under its CA (revocation_unavailable), or use the last one (its revocations still hold)' },
  ocspUrl: { kind: 'urls', help: 'an OCSP responder asked about every client certificate (several: asked in order until one answers); with --ocsp-aia a certificate\'s own AIA responder is asked first' },
  ocspAia: { kind: 'bool', default: false, help: 'ask the OCSP responder a client certificate names in its Authority Information Access (before --ocsp-url)' },
  ocspUnavailable: { kind: 'enum', values: ['refuse', 'allow'], default: 'refuse', help: 'no OCSP answer to use (responder unreachable, a bad answer, status unknown, or the cached one past its nextUpdate): refuse (revocation_unavailable) or allow (logged)' },
  enforceSignedCommands: { kind: 'bool', default: true, help: 'verify signed commands at the broker edge, the signer\'s revocation included (command_rejected); --no-enforce-signed-commands leaves every check to the car' },
  metricsPort: { kind: 'port', min: 0, help: 'the metrics/admin port: GET /metrics (Prometheus), /healthz (process alive), /readyz (200 ready, 503 not: listener down, PKI expired, revocation store down while failing closed, draining), POST /drain (loopback only); 0: any free port' },
  metricsHost: { kind: 'string', default: '127.0.0.1', help: 'address of the metrics/admin port (0.0.0.0 for a load balancer\'s health checks from another host; POST /drain is still taken from loopback only)' },
  drainRate: { kind: 'int', default: 200, min: 1, max: 1_000_000, help: 'on SIGTERM or "fleetgate drain": sessions closed per second (node-wide) once the listener stopped accepting; their Wills are not published (draining)' },
  drainTimeout: { kind: 'duration', default: 300_000, min: 0, max: 86_400_000, help: 'a drain ends after this even with sessions left: they are closed at once (Wills dropped), then the process exits' },
  workers: { kind: 'string', help: 'worker processes sharing the listening port: a number, or auto (one per core); one primary supervises them (restarts a dead one, SIGHUP reloads all, SIGTERM drains all) and serves the metrics/admin port; needs --redis' },
  logLevel: { kind: 'enum', values: LOG_LEVELS, default: 'info', help: 'audit log level (fatal, error, warn, info, debug, trace, silent)' },
} as const satisfies Record<string, OptionSpec>

export type ServeOptionName = keyof typeof SERVE_OPTIONS

/** The value an option resolves to: its kind's type, or one of an enum's values. */
export type OptionValue<S> =
  S extends { readonly kind: 'enum'; readonly values: readonly (infer V)[] } ? V
    : S extends { readonly kind: infer K extends keyof KindValue } ? KindValue[K] : never

type WithDefault<T> = { [N in keyof T]: T[N] extends { readonly default: unknown } ? N : never }[keyof T]

/** The resolved options of a table: an option with a default is always set, one without may be absent. */
export type OptionsOf<T> =
  { readonly [N in WithDefault<T>]: OptionValue<T[N]> } &
  { readonly [N in Exclude<keyof T, WithDefault<T>>]?: OptionValue<T[N]> }

/** camelCase name -> --kebab-case flag */
export function flagOf (name: string): string {
  return '--' + name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())
}

export function envOf (name: ServeOptionName): string {
  const spec: OptionSpec = SERVE_OPTIONS[name]
  return spec.env ?? 'FLEETGATE_' + flagOf(name).slice(2).replace(/-/g, '_').toUpperCase()
}

export function defaultText (spec: OptionSpec): string | undefined {
  if (spec.default === undefined) return undefined
  if (spec.kind === 'duration') return formatDuration(spec.default)
  if (spec.kind === 'size') return formatSize(spec.default)
  return String(spec.default)
}
