import { expect } from 'chai'
import { covers, isValidFilter, isValidTopicName, matchTopic } from '../../../src/policy/topic.js'
import { grantOf, identity, onePolicy } from './fixtures.js'

const L = (s: string): string[] => s.split('/')

describe('policy: MQTT topic matching and covering', () => {
  describe('filter and topic validity', () => {
    it('accepts well-formed filters', () => {
      for (const f of ['a', '#', '+', 'a/#', 'a/+/b', '+/+', '/a', 'a//b', '$SYS/#']) expect(isValidFilter(f), f).to.equal(true)
    })
    it('refuses malformed filters', () => {
      for (const f of ['', 'a/#/b', 'a+', 'a/b#', '#/a', '++', 'a/+b', 'a\u0000b']) expect(isValidFilter(f), JSON.stringify(f)).to.equal(false)
    })
    it('refuses wildcards, NUL and emptiness in topic names', () => {
      for (const t of ['', 'a/+', 'a/#', 'a+b', 'a\u0000']) expect(isValidTopicName(t), JSON.stringify(t)).to.equal(false)
      expect(isValidTopicName('a/b')).to.equal(true)
    })
  })

  describe('matchTopic', () => {
    const yes: [string, string][] = [
      ['a/#', 'a'], ['a/#', 'a/b/c'], ['#', 'a/b'], ['a/+', 'a/b'], ['a/+', 'a/'], ['+/+', '/a'],
      ['a//b', 'a//b'], ['$SYS/#', '$SYS/x'], ['a/b', 'a/b'],
    ]
    const no: [string, string][] = [
      ['a/+', 'a'], ['a/+', 'a/b/c'], ['a/b', 'a/bc'], ['a/bc', 'a/b'], ['a/b', 'a/b/c'], ['a/b/c', 'a/b'],
      ['#', '$SYS/x'], ['+/x', '$SYS/x'], ['a/#', 'b'], ['ab/#', 'a'],
    ]
    for (const [f, t] of yes) it(`${f} matches ${t}`, () => expect(matchTopic(L(f), t)).to.equal(true))
    for (const [f, t] of no) it(`${f} does not match ${t}`, () => expect(matchTopic(L(f), t)).to.equal(false))
  })

  describe('covers', () => {
    const rule = 'vehicles/+/telemetry/+'
    for (const f of ['vehicles/ABC/telemetry/speed', 'vehicles/+/telemetry/+', 'vehicles/ABC/telemetry/+']) {
      it(`${rule} covers ${f}`, () => expect(covers(L(rule), L(f))).to.equal(true))
    }
    for (const f of ['vehicles/#', 'vehicles/+/commands', '#', 'vehicles/+/telemetry/#', '+/+/telemetry/+', 'vehicles/+/telemetry', 'vehicles/+/telemetry/+/x']) {
      it(`${rule} does not cover ${f}`, () => expect(covers(L(rule), L(f))).to.equal(false))
    }
    for (const f of ['a', 'a/#', 'a/b/+/c', 'a/+']) {
      it(`a/# covers ${f}`, () => expect(covers(L('a/#'), L(f))).to.equal(true))
    }
    it('a/# does not cover #, b, + or +/#', () => {
      for (const f of ['#', 'b', '+', '+/#']) expect(covers(L('a/#'), L(f)), f).to.equal(false)
    })
    it('a $ filter is covered only by a rule with the same literal $ level', () => {
      expect(covers(L('#'), L('$SYS/#'))).to.equal(false)
      expect(covers(L('+/#'), L('$SYS/x'))).to.equal(false)
      expect(covers(L('$SYS/#'), L('$SYS/broker/+'))).to.equal(true)
      expect(covers(L('$SYS/#'), L('$share/g/a'))).to.equal(false)
    })
  })

  describe('grant checks', () => {
    const policy = onePolicy([
      'match: { subject: { OU: t } }',
      'clientId: "c"',
      'publish: ["a/#", "x/+/y"]',
      'subscribe: ["a/#", "vehicles/+/telemetry/+", "$SYS/broker/#"]',
    ].join('\n'))
    const g = grantOf(policy.resolve(identity({ subject: { OU: ['t'] } }), 'c'))

    it('canPublish uses MQTT matching', () => {
      expect(g.canPublish('a')).to.equal(true)
      expect(g.canPublish('a/b/c')).to.equal(true)
      expect(g.canPublish('x/1/y')).to.equal(true)
      expect(g.canPublish('x/1/2/y')).to.equal(false)
      expect(g.canPublish('b')).to.equal(false)
    })

    it('canSubscribe refuses invalid and shared filters', () => {
      for (const f of ['a/#/b', 'a+', '', 'a/b#', '$share/g/a/b']) expect(g.canSubscribe(f), JSON.stringify(f)).to.equal(false)
      expect(g.canSubscribe('a/b/+/c')).to.equal(true)
    })

    it('a literal $SYS rule allows that part of $SYS, and nothing wider', () => {
      expect(g.canSubscribe('$SYS/broker/clients/+')).to.equal(true)
      expect(g.canSubscribe('$SYS/#')).to.equal(false)
      expect(g.canReceive('$SYS/broker/uptime')).to.equal(true)
      expect(g.canReceive('$SYS/other')).to.equal(false)
    })

    it('canReceive uses MQTT matching on subscribe rules only', () => {
      expect(g.canReceive('vehicles/V/telemetry/speed')).to.equal(true)
      expect(g.canReceive('vehicles/V/commands')).to.equal(false)
      expect(g.canReceive('x/1/y')).to.equal(false)
      expect(g.canReceive('a/+')).to.equal(false)
    })
  })
})

describe('policy: rules with per-connection slots', () => {
  const VIN = '1HGCM82633A004352'
  it('a slot matches exactly its value, as a whole level', () => {
    expect(matchTopic(['vehicles', 0, 'telemetry', '+'], `vehicles/${VIN}/telemetry/speed`, [VIN])).to.equal(true)
    expect(matchTopic(['vehicles', 0, 'telemetry', '+'], 'vehicles/OTHER/telemetry/speed', [VIN])).to.equal(false)
    expect(matchTopic(['vehicles', 0, 'telemetry', '+'], `vehicles/${VIN}X/telemetry/speed`, [VIN])).to.equal(false)
  })
  it('a slot with no value denies (never a wildcard)', () => {
    expect(matchTopic(['vehicles', 0, 'status'], 'vehicles/anything/status', [undefined])).to.equal(false)
    expect(covers(['vehicles', 0, 'commands'], ['vehicles', 'x', 'commands'], [undefined])).to.equal(false)
  })
  it('a slot value "#" or "+" is a literal, never a wildcard', () => {
    expect(matchTopic(['vehicles', 0], 'vehicles/a', ['#'])).to.equal(false)
    expect(matchTopic(['vehicles', 0], 'vehicles/a', ['+'])).to.equal(false)
    expect(covers(['vehicles', 0], ['vehicles', 'a'], ['+'])).to.equal(false)
    expect(covers(['vehicles', 0], ['vehicles', '+'], ['+'])).to.equal(false)
  })
  it('covers with slots: own filters only', () => {
    expect(covers(['vehicles', 0, 'commands'], ['vehicles', VIN, 'commands'], [VIN])).to.equal(true)
    expect(covers(['vehicles', 0, 'commands'], ['vehicles', '+', 'commands'], [VIN])).to.equal(false)
    expect(covers(['vehicles', 0, 'commands'], ['vehicles', '#'], [VIN])).to.equal(false)
  })
})
