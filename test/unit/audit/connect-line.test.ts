// The connect.allow line put together without pino: the same bytes as pino's call,
// for every field that varies (client-chosen clientIds with quotes, control
// characters and non-ASCII, certificates with and without CN and OU, no address),
// and pino's own call wherever the format is not fleetgate's.
import { expect } from 'chai'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { pino } from 'pino'
import { createAuditLogger, type AuditLogger } from '../../../src/audit/index.js'
import { auditConnectAllow, connectAllowViaPino, type ConnectAllowFields } from '../../../src/audit/connect-line.js'
import { caInfoOf, identityFromChain, type Identity } from '../../../src/identity/index.js'

/** a self-signed P-256 certificate with this subject (openssl -subj syntax) */
function selfSigned (dir: string, subj: string): Buffer {
  const cnf = join(dir, 'ext.cnf')
  writeFileSync(cnf, '[req]\ndistinguished_name=dn\nutf8=yes\n[dn]\n[e]\nextendedKeyUsage=clientAuth\n')
  const key = join(dir, 'k.pem'); const out = join(dir, 'c.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key,
    '-utf8', '-subj', subj, '-days', '1', '-extensions', 'e', '-config', cnf, '-out', out], { stdio: 'pipe' })
  return new X509Certificate(readFileSync(out)).raw
}

/** a logger writing into `lines`, and how many times pino's own info() ran */
function capture (make: (dest: { write (s: string): void }) => AuditLogger): { log: AuditLogger; lines: string[]; pinoCalls: () => number } {
  const lines: string[] = []
  const log = make({ write: (s) => { lines.push(s) } })
  let calls = 0
  const info = log.info.bind(log)
  log.info = ((...args: Parameters<AuditLogger['info']>) => { calls++; info(...args) }) as AuditLogger['info']
  return { log, lines, pinoCalls: () => calls }
}

/** the line with its time replaced (two calls a millisecond apart differ only there) */
const timeless = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"')

describe('audit: the connect.allow line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-connect-line-'))
  let identities: Identity[]
  before(() => {
    identities = [
      '/O=fleetgate dev/OU=vehicle/CN=1HGCM82633A004352',
      '/O=fleetgate dev/CN=backend-1',
      '/O=Fahrzeug "Werk" \\\\ Süd/OU=Flotte €/CN=Wagen "7" \\\\ 😀',
      '/O=no common name/OU=ops',
    ].map((subj) => { const der = selfSigned(dir, subj); return identityFromChain([der], (ca) => caInfoOf(ca, null)) })
  })

  const clientIds = ['1HGCM82633A004352', 'a"b\\c', 'ctl\u0001\u001f\n', 'Zürich €😀', 'x'.repeat(300), '']
  const remotes = [undefined, '127.0.0.1', '::ffff:10.1.2.3']

  it('writes the bytes pino writes, without calling pino, for a logger made by createAuditLogger', () => {
    const fast = capture((dest) => createAuditLogger({ destination: dest }))
    const slow = capture((dest) => createAuditLogger({ destination: dest }))
    let n = 0
    for (const identity of identities) {
      for (const clientId of clientIds) {
        for (const remote of remotes) {
          for (const resumed of [true, false]) {
            const f: ConnectAllowFields = { identity, clientId, role: 'vehicle', remote, resumed }
            auditConnectAllow(fast.log, f)
            connectAllowViaPino(slow.log, f)
            n++
          }
        }
      }
    }
    expect(fast.pinoCalls()).to.equal(0)
    expect(slow.pinoCalls()).to.equal(n)
    expect(fast.lines).to.have.length(n)
    for (let i = 0; i < n; i++) {
      expect(timeless(fast.lines[i]!)).to.equal(timeless(slow.lines[i]!))
      const parsed = JSON.parse(fast.lines[i]!) as { evt: string; conn: { clientId: string } }
      expect(parsed.evt).to.equal('connect.allow')
    }
    // the clientId is clipped as pino's call clips it, and an absent address is no key at all
    const long = fast.lines.map((l) => JSON.parse(l) as { conn: { clientId: string }; remote?: string }).find((l) => l.conn.clientId.startsWith('xxx'))!
    expect(long.conn.clientId).to.equal('x'.repeat(128) + '…')
    expect(fast.lines.filter((l) => !l.includes('"remote"'))).to.have.length(n / remotes.length)
  })

  it('writes nothing below the logger\'s level', () => {
    const fast = capture((dest) => createAuditLogger({ destination: dest, level: 'warn' }))
    auditConnectAllow(fast.log, { identity: identities[0]!, clientId: 'c', role: 'vehicle', remote: '127.0.0.1', resumed: false })
    expect(fast.lines).to.deep.equal([])
  })

  it('goes through pino for any other logger: a child with bindings, a user\'s pino, a multistream', () => {
    const f: ConnectAllowFields = { identity: identities[2]!, clientId: 'a"b', role: 'vehicle', remote: '127.0.0.1', resumed: true }
    const makers: Array<(dest: { write (s: string): void }) => AuditLogger> = [
      (dest) => createAuditLogger({ destination: dest }).child({ node: 'n1' }),
      (dest) => pino({ base: { host: 'h' } }, dest),
      (dest) => createAuditLogger({ destination: pino.multistream([{ stream: dest }]) }),
    ]
    for (const make of makers) {
      const fast = capture(make)
      const slow = capture(make)
      auditConnectAllow(fast.log, f)
      connectAllowViaPino(slow.log, f)
      expect(fast.pinoCalls()).to.equal(1)
      expect(fast.lines).to.have.length(1)
      expect(timeless(fast.lines[0]!)).to.equal(timeless(slow.lines[0]!))
    }
  })
})
