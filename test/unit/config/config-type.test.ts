// The Config type is derived from the option table (SERVE_OPTIONS): checked
// here against the shape the broker relies on, at compile time (a mismatch
// fails `tsc`) and once at run time.
import { expect } from 'chai'
import { resolveConfig, SERVE_OPTIONS, type Config } from '../../../src/config/index.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false

/** what src/config/config.ts declared by hand before the type was derived, and `dev` */
interface Expected {
  readonly port: number
  readonly host: string
  readonly ca?: string
  readonly cert?: string
  readonly key?: string
  readonly dev: boolean
  readonly devPki: string
  readonly policy?: string
  readonly redis?: string
  readonly redisPrefix: string
  readonly redisMinReplicas?: number
  readonly redisReplicaTimeout: number
  readonly dataDir: string
  readonly maxPacketSize: number
  readonly connectTimeout: number
  readonly handshakeTimeout: number
  readonly tlsGroups: string
  readonly tlsResumption: 'on' | 'off'
  readonly tlsTicketKeys?: string
  readonly tlsTicketRotation: number
  readonly maxConnectionsPerIp: number
  readonly maxPublishRate: number
  readonly maxConnectRate: number
  readonly maxHandshakes: number
  readonly maxConnections: number
  readonly proxyProtocol: boolean
  readonly proxyFrom?: string
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
  readonly expiryWarning: number
  readonly crlUrl?: readonly string[]
  readonly crlDp: boolean
  readonly crlRefresh: number
  readonly crlStale: 'refuse' | 'use'
  readonly ocspUrl?: readonly string[]
  readonly ocspAia: boolean
  readonly ocspUnavailable: 'refuse' | 'allow'
  readonly enforceSignedCommands: boolean
  readonly metricsPort?: number
  readonly metricsHost: string
  readonly drainRate: number
  readonly drainTimeout: number
  readonly workers?: string
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
}

const derived: Equal<Config, Expected> = true

describe('config: the Config type comes from the option table', () => {
  it('has one key per option, with its kind\'s type; an option without a default is optional', () => {
    expect(derived).to.equal(true)
    const c = resolveConfig({ dev: true })
    for (const key of Object.keys(c)) expect(SERVE_OPTIONS).to.have.property(key)
    for (const [name, spec] of Object.entries(SERVE_OPTIONS)) {
      expect(name in c, name).to.equal('default' in spec)
    }
  })
})
