import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'chai'
import { FleetgateError } from '../../../src/contract/errors.js'
import { loadPolicyFile, parsePolicy } from '../../../src/policy/index.js'

/** the FleetgateError parsePolicy throws for this text */
function problem (text: string, source = 'policy.yaml'): FleetgateError {
  try {
    parsePolicy(text, source)
  } catch (err) {
    expect(err).to.be.instanceOf(FleetgateError)
    const e = err as FleetgateError
    expect(e.message, 'one line').to.not.include('\n')
    return e
  }
  throw new Error('expected parsePolicy to throw')
}

const lines = (...l: string[]): string => l.join('\n') + '\n'
const OK_ROLE = ['  r:', '    match: { subject: { OU: r } }', '    clientId: "${subject.CN}"']

describe('policy: file validation', () => {
  it('accepts a minimal policy (publish and subscribe default to none)', () => {
    const p = parsePolicy(lines('roles:', ...OK_ROLE), 'p.yaml')
    expect(p.roles).to.deep.equal(['r'])
    expect(p.source).to.equal('p.yaml')
  })

  it('accepts JSON', () => {
    const p = parsePolicy(JSON.stringify({ roles: { a: { match: { san: { dns: 'x.example' } }, clientId: 'x*', publish: ['a/b'] } } }), 'p.json')
    expect(p.roles).to.deep.equal(['a'])
  })

  it('names file, line and key of an unknown role key', () => {
    const e = problem(lines('roles:', '  vehicle:', '    match: { subject: { OU: vehicle } }', '    clientId: "${subject.CN}"',
      '    publish: []', '    subscribe: []', '    publsh: ["a"]'))
    expect(e.code).to.equal('FG_ERR_POLICY_UNKNOWN_KEY')
    expect(e.message).to.equal('policy.yaml:7: unknown key "publsh" in role "vehicle" (expected one of match, cnFormat, clientId, publish, subscribe, retain)')
  })

  it('refuses unknown keys at the top level, in match and in match.san', () => {
    let e = problem(lines('roles:', ...OK_ROLE, 'role: {}'))
    expect([e.code, e.message]).to.deep.equal(['FG_ERR_POLICY_UNKNOWN_KEY', 'policy.yaml:5: unknown key "role" at the top level (expected roles)'])
    e = problem(lines('roles:', '  r:', '    match:', '      subjct: { OU: r }', '    clientId: x'))
    expect(e.code).to.equal('FG_ERR_POLICY_UNKNOWN_KEY')
    expect(e.message).to.match(/^policy\.yaml:4: unknown key "subjct" in match of role "r"/)
    e = problem(lines('roles:', '  r:', '    match: { san: { ip: 10.0.0.1 } }', '    clientId: x'))
    expect(e.message).to.match(/^policy\.yaml:3: unknown key "ip" in match\.san of role "r" \(expected one of dns, uri\)/)
  })

  it('refuses an unknown placeholder, naming it', () => {
    const e = problem(lines('roles:', ...OK_ROLE, '    publish:', '      - "a/${subject.CN}"', '      - "a/${subjet.CN}/b"'))
    expect(e.code).to.equal('FG_ERR_POLICY_INVALID')
    expect(e.message).to.match(/^policy\.yaml:7: role "r": publish\[1\]: unknown placeholder "\$\{subjet\.CN\}"/)
    expect(problem(lines('roles:', ...OK_ROLE, '    subscribe: ["${san.ip}"]')).message).to.include('unknown placeholder "${san.ip}"')
    expect(problem(lines('roles:', ...OK_ROLE, '    subscribe: ["a/${subject.CN"]')).message).to.include('unclosed placeholder')
    expect(problem(lines('roles:', '  r:', '    match: { subject: { OU: r } }', '    clientId: "${subject}"')).message)
      .to.match(/^policy\.yaml:4: .*unknown placeholder "\$\{subject\}"/)
  })

  it('refuses an empty match (it would match everyone)', () => {
    for (const m of ['{}', '{ subject: {} }', '{ issuer: {} }', '{ san: {} }', '']) {
      const e = problem(lines('roles:', '  r:', `    match: ${m}`, '    clientId: x'))
      expect(e.code, m).to.equal('FG_ERR_POLICY_INVALID')
      expect(e.message, m).to.match(/^policy\.yaml:3: /)
    }
  })

  it('refuses a bad filter in a rule', () => {
    for (const f of ['a/#/b', 'a+', 'a/${subject.CN}+', 'a/#${subject.CN}', '', 'a\\0b']) {
      const e = problem(lines('roles:', ...OK_ROLE, `    subscribe: ["${f}"]`))
      expect(e.code, f).to.equal('FG_ERR_POLICY_INVALID')
      expect(e.message, f).to.match(/^policy\.yaml:5: role "r": subscribe\[0\]: /)
    }
  })

  it('refuses publish rules on $ topics and $share subscribe rules', () => {
    expect(problem(lines('roles:', ...OK_ROLE, '    publish: ["$SYS/x"]')).message).to.include('"$" topic')
    expect(problem(lines('roles:', ...OK_ROLE, '    subscribe: ["$share/g/a"]')).message).to.include('shared')
  })

  it('refuses duplicate roles and duplicate keys, naming them', () => {
    let e = problem(lines('roles:', ...OK_ROLE, ...OK_ROLE))
    expect(e.message).to.equal('policy.yaml:5: duplicate key "r" in "roles"')
    e = problem(lines('roles:', ...OK_ROLE, '    clientId: y'))
    expect(e.message).to.equal('policy.yaml:5: duplicate key "clientId" in role "r"')
  })

  it('requires match and clientId', () => {
    expect(problem(lines('roles:', '  r:', '    clientId: x')).message).to.equal('policy.yaml:2: role "r": missing required key "match"')
    expect(problem(lines('roles:', '  r:', '    match: { subject: { OU: r } }')).message).to.equal('policy.yaml:2: role "r": missing required key "clientId"')
  })

  it('checks value shapes', () => {
    const bad: [string[], RegExp][] = [
      [['roles:', ...OK_ROLE, '    cnFormat: vim'], /:5: role "r": cnFormat must be "vin"/],
      [['roles:', ...OK_ROLE, '    publish: "a/b"'], /:5: role "r": publish must be a list of strings/],
      [['roles:', ...OK_ROLE, '    publish: [1]'], /:5: role "r": publish\[0\] must be a string/],
      [['roles:', '  r:', '    match: { subject: { C: 12 } }', '    clientId: x'], /:3: role "r": match\.subject\.C must be a string/],
      [['roles:', '  r:', '    match: { subject: { "C N": x } }', '    clientId: x'], /:3: .*"C N" is not an attribute short name/],
      [['roles:', '  r:', '    match: { policy: "1.2.x" }', '    clientId: x'], /:3: .*not a dotted OID/],
      [['roles:', '  r:', '    match: { policy: 1.2 }', '    clientId: x'], /:3: .*match\.policy must be a string/],
      [['roles:', '  r:', '    match: { subject: { OU: r } }', '    clientId: "*"'], /:4: .*would accept any clientId/],
      [['roles:', '  r:', '    match: { subject: { OU: r } }', '    clientId: "a*b*"'], /:4: .*only once, at the end/],
      [['roles:', '  r:', '    match: { subject: { OU: r } }', '    clientId: "${clientId}"'], /:4: .*cannot be used in the clientId template/],
      [['roles: {}'], /:1: "roles" must name at least one role/],
      [['roles: []'], /:1: "roles" must be a map/],
      [['roles:', '  "r r":', '    match: { subject: { OU: r } }', '    clientId: x'], /:2: role name "r r"/],
      [['other: 1'], /:1: unknown key "other" at the top level/],
      [['# nothing'], /: the policy is empty/],
    ]
    for (const [text, re] of bad) expect(problem(lines(...text)).message, text.join(' | ')).to.match(re)
  })

  it('reports YAML and JSON syntax errors with a line', () => {
    let e = problem(lines('roles:', '  r:', '    match: { subject: { OU: r }', '    clientId: x'))
    expect(e.code).to.equal('FG_ERR_POLICY_SYNTAX')
    expect(e.message).to.match(/^policy\.yaml:\d+: not valid YAML: /)
    e = problem('{"roles": {"r": }\n', 'p.json')
    expect(e.code).to.equal('FG_ERR_POLICY_SYNTAX')
    expect(e.message).to.match(/^p\.json:\d+: not valid JSON: /)
  })

  describe('loadPolicyFile', () => {
    let dir: string
    before(() => { dir = mkdtempSync(join(tmpdir(), 'fleetgate-policy-')) })
    after(() => rmSync(dir, { recursive: true, force: true }))

    it('names the file in validation errors', () => {
      const file = join(dir, 'bad.yaml')
      writeFileSync(file, lines('roles:', ...OK_ROLE, '    subscribe: ["${nope}"]'))
      expect(() => loadPolicyFile(file)).to.throw(FleetgateError, `${file}:5: role "r": subscribe[0]: unknown placeholder "\${nope}"`)
    })

    it('refuses a missing file with FG_ERR_FILE_UNREADABLE', () => {
      const file = join(dir, 'missing.yaml')
      try {
        loadPolicyFile(file)
        expect.fail('should throw')
      } catch (err) {
        expect((err as FleetgateError).code).to.equal('FG_ERR_FILE_UNREADABLE')
        expect((err as FleetgateError).message).to.include(file).and.include('ENOENT')
      }
    })
  })

  it('refuses ${clientId} in the topics of a role whose clientId template has a trailing *, either direction', () => {
    for (const rule of ['    publish: ["svc/${clientId}/outbox"]', '    subscribe: ["svc/${clientId}/inbox"]', '    retain: ["svc/${clientId}/state"]']) {
      const e = problem(lines('roles:', '  svc:', '    match: { subject: { OU: svc } }', '    clientId: "${subject.CN}*"', rule))
      expect(e.code).to.equal('FG_ERR_POLICY_INVALID')
      expect(e.message).to.match(/^policy\.yaml:2: role "svc": \$\{clientId\} in a topic rule needs an exact clientId template/)
    }
    // an exact template may use ${clientId}; a wildcard template may use certificate values
    expect(parsePolicy(lines('roles:', '  svc:', '    match: { subject: { OU: svc } }', '    clientId: "${subject.CN}"', '    subscribe: ["svc/${clientId}/inbox"]'), 'p.yaml').roles).to.deep.equal(['svc'])
    expect(parsePolicy(lines('roles:', '  svc:', '    match: { subject: { OU: svc } }', '    clientId: "${subject.CN}*"', '    subscribe: ["svc/${subject.CN}/inbox"]'), 'p.yaml').roles).to.deep.equal(['svc'])
  })

  it('retain: exact topics only (one retained message per rule and identity)', () => {
    const ok = parsePolicy(lines('roles:', ...OK_ROLE, '    publish: ["s/${subject.CN}/status"]', '    retain: ["s/${subject.CN}/status"]'), 'p.yaml')
    expect(ok.roles).to.deep.equal(['r'])
    for (const rule of ['s/+/status', 's/${subject.CN}/#']) {
      const e = problem(lines('roles:', ...OK_ROLE, `    retain: ["${rule}"]`))
      expect(e.code).to.equal('FG_ERR_POLICY_INVALID')
      expect(e.message).to.match(/retain\[0\] .* must be an exact topic/)
    }
  })
})
