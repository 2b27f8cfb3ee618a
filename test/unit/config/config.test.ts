import { expect } from 'chai'
import { resolveConfig, parseDuration, parseSize, type ConfigInput } from '../../../src/config/index.js'
import { FleetgateError } from '../../../src/contract/errors.js'

describe('config: resolved once, validated, frozen', () => {
  it('has the documented defaults', () => {
    const c = resolveConfig({ dev: true })
    expect(c.port).to.equal(8883)
    expect(c.maxPacketSize).to.equal(128 * 1024)
    expect(c.connectTimeout).to.equal(10_000)
    expect(c.maxConnectionsPerIp).to.equal(50)
    expect(c.revocationRecheck).to.equal(30_000)
    expect(c.revocationCache).to.equal(60_000)
    expect(c.revocationFailOpen).to.equal(false)
    expect(c.enforceSignedCommands).to.equal(true)
    expect(Object.isFrozen(c)).to.equal(true)
  })

  it('reads FLEETGATE_* and REDIS_URL; a flag wins over the environment', () => {
    const c = resolveConfig({ port: '9999', dev: true }, { FLEETGATE_PORT: '1234', FLEETGATE_MAX_PACKET_SIZE: '64KiB', REDIS_URL: 'redis://127.0.0.1:7777' })
    expect(c.port).to.equal(9999)
    expect(c.maxPacketSize).to.equal(65536)
    expect(c.redis).to.equal('redis://127.0.0.1:7777')
  })

  it('names the flag or variable in one line', () => {
    const fail = (input: Record<string, string>, env: Record<string, string>, pattern: RegExp) => {
      try { resolveConfig(input, env); expect.fail('should throw') } catch (err) {
        expect(err).to.be.instanceOf(FleetgateError)
        expect((err as FleetgateError).toLine()).to.match(pattern)
        expect((err as FleetgateError).toLine()).to.not.include('\n')
      }
    }
    fail({ port: '70000' }, {}, /^FG_ERR_CONFIG_INVALID: --port: must be between/)
    fail({}, { FLEETGATE_CONNECT_TIMEOUT: 'soon' }, /FLEETGATE_CONNECT_TIMEOUT/)
    fail({ redis: 'http://x' }, {}, /--redis: expected a redis:\/\//)
    fail({ cert: 'a.pem' }, {}, /^FG_ERR_CONFIG_MISSING: --ca and --key/)
    fail({ bogus: '1' } as never, {}, /unknown option "bogus"/)
  })

  it('needs the TLS material: --ca, --cert and --key, or --dev (the dev PKI); never both, never none', () => {
    const line = (input: ConfigInput, env: NodeJS.ProcessEnv = {}) => {
      try { resolveConfig(input, env); return 'resolved' } catch (err) { return (err as FleetgateError).toLine() }
    }
    expect(line({})).to.equal('FG_ERR_CONFIG_MISSING: --ca, --cert and --key are required; for a development PKI run "fleetgate pki dev", then "fleetgate serve --dev"')
    expect(line({ ca: 'a.pem', key: 'k.pem' })).to.equal('FG_ERR_CONFIG_MISSING: --cert must be given with --ca, --key (or none of them, with --dev)')
    expect(line({ dev: true, cert: 'c.pem' })).to.equal('FG_ERR_CONFIG_INVALID: --dev takes the TLS files from the dev PKI: give --dev or --cert, not both')
    expect(line({ ca: 'a.pem', cert: 'c.pem', key: 'k.pem' })).to.equal('resolved')
    expect(line({}, { FLEETGATE_DEV: '1' })).to.equal('resolved')
    expect(resolveConfig({ dev: true }).devPki).to.equal('certs/dev')
    expect(resolveConfig({ ca: 'a.pem', cert: 'c.pem', key: 'k.pem' }).dev).to.equal(false)
  })

  it('does not read a resolved Config again', () => {
    const c = resolveConfig({ dev: true, port: '1883' })
    expect(resolveConfig(c, { FLEETGATE_PORT: '9' })).to.equal(c)
  })

  it('parses durations and sizes', () => {
    expect(parseDuration('10s')).to.equal(10_000)
    expect(parseDuration('24h')).to.equal(86_400_000)
    expect(parseDuration('250ms')).to.equal(250)
    expect(parseDuration('3')).to.equal(3000)
    expect(parseDuration('3 weeks')).to.equal(null)
    expect(parseSize('128KiB')).to.equal(131072)
    expect(parseSize('1MiB')).to.equal(1048576)
    expect(parseSize('1 GB')).to.equal(null)
  })
})

describe('config: the accept checks (--proxy-protocol, --proxy-from, --max-connect-rate, --max-connections)', () => {
  const line = (input: ConfigInput, env: Record<string, string> = {}): string => {
    try { resolveConfig({ dev: true, ...input }, env) } catch (err) { return (err as FleetgateError).toLine() }
    return 'accepted'
  }

  it('is all off by default', () => {
    const c = resolveConfig({ dev: true })
    expect(c).to.include({ proxyProtocol: false, maxConnectRate: 0, maxConnections: 0 })
    expect(c.proxyFrom).to.equal(undefined)
  })

  it('believes a PROXY header only from listed balancers: --proxy-protocol needs --proxy-from, and the reverse', () => {
    expect(line({ proxyProtocol: true })).to.match(/^FG_ERR_CONFIG_MISSING: --proxy-protocol needs --proxy-from/)
    expect(line({ proxyFrom: '10.0.0.0/8' })).to.match(/^FG_ERR_CONFIG_INVALID: --proxy-from is given without --proxy-protocol/)
    expect(line({ proxyProtocol: true, proxyFrom: '10.0.0.0/8, 127.0.0.1,2001:db8::/32,::1' })).to.equal('accepted')
    expect(line({}, { FLEETGATE_PROXY_PROTOCOL: 'true', FLEETGATE_PROXY_FROM: '192.168.0.0/16' })).to.equal('accepted')
  })

  for (const [bad, problem] of [
    ['10.0.0.0/33', /prefix length must be 0-32/],
    ['::/129', /prefix length must be 0-128/],
    ['lb.example', /not an IPv4 or IPv6 address/],
    ['10.0.0.1,,10.0.0.2', /empty entry/],
    ['10.0.0.0/8x', /prefix length/],
    ['fe80::1%eth0', /not an IPv4 or IPv6 address/],
    ['010.0.0.1', /not an IPv4 or IPv6 address/],
  ] as const) {
    it(`refuses --proxy-from ${bad} in one line naming the flag`, () => {
      const l = line({ proxyProtocol: true, proxyFrom: bad })
      expect(l).to.match(/^FG_ERR_CONFIG_INVALID: --proxy-from: /)
      expect(l).to.match(problem)
    })
  }

  it('takes whole numbers for the rate and the cap', () => {
    expect(line({ maxConnectRate: '-1' })).to.match(/--max-connect-rate: expected a whole number/)
    expect(line({ maxConnections: '1.5' })).to.match(/--max-connections: expected a whole number/)
    expect(resolveConfig({ dev: true, maxConnectRate: '500', maxConnections: '20000' })).to.include({ maxConnectRate: 500, maxConnections: 20000 })
  })
})
