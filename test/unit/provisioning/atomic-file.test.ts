// writeFileAtomic: the whole new text or the old one, the mode set at creation, nothing left beside it.
import { expect } from 'chai'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFileAtomic } from '../../../src/provisioning/index.js'

describe('writeFileAtomic', () => {
  let dir: string
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'fg-atomic-')) })
  afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

  it('creates the file with the mode and leaves no temporary file', () => {
    const path = join(dir, 'key.pem')
    writeFileAtomic(path, 'secret\n', 0o600)
    expect(readFileSync(path, 'utf8')).to.equal('secret\n')
    expect(statSync(path).mode & 0o777).to.equal(0o600)
    expect(readdirSync(dir)).to.deep.equal(['key.pem'])
  })

  it('replaces an existing file whole, also with empty text, through the temporary name given', () => {
    const path = join(dir, 'state.jsonl')
    writeFileSync(path, 'old line\n')
    writeFileAtomic(path, 'new line\n', 0o600, `${path}.42.tmp`)
    expect(readFileSync(path, 'utf8')).to.equal('new line\n')
    writeFileAtomic(path, '', 0o600, `${path}.42.tmp`)
    expect(readFileSync(path, 'utf8')).to.equal('')
    expect(readdirSync(dir)).to.deep.equal(['state.jsonl'])
  })
})
