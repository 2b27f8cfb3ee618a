// The README tables are contracts for operators: keep them in step with the code
// (as fastify's errors.test.js does with its docs).
import { expect } from 'chai'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { ERROR_CODES } from '../../../src/contract/errors.js'
import { SERVE_OPTIONS, flagOf, envOf, type ServeOptionName } from '../../../src/config/index.js'

const README = readFileSync(join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', '..', 'README.md'), 'utf8')

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

  it('shows the two quick-start commands', () => {
    expect(README).to.match(/npm start/)
    expect(README).to.match(/npm test/)
  })
})
