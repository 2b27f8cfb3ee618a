// The audit logger's redaction (src/audit/logger.ts) against pino's own redact
// option with the same paths and `remove`: every line comes out the same, keys
// named like secrets removed at the top level and one level down.
import { expect } from 'chai'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createAuditLogger, REDACT_PATHS } from '../../../src/audit/index.js'

class Lines extends Writable {
  readonly lines: Array<Record<string, unknown>> = []
  override _write (chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const l of chunk.toString('utf8').split('\n')) if (l) this.lines.push(JSON.parse(l) as Record<string, unknown>)
    cb()
  }
}

/** what pino's redact option makes of the same calls (the reference) */
function pinoRedacting (dest: Writable) {
  return pino({
    level: 'info', base: { svc: 'fleetgate' }, redact: { paths: REDACT_PATHS, remove: true },
    timestamp: false, formatters: { level: (label) => ({ level: label }) },
  }, dest)
}

const secretError = Object.assign(new Error('boom'), { key: 'PRIVATE', code: 'E1' })
const SAMPLES: Array<Record<string, unknown>> = [
  { evt: 'connect.allow', conn: { fp: 'ab', clientId: 'VIN' }, cert: { cn: 'VIN', ou: 'vehicle', serial: '1', fp: 'ab' }, tls: { resumed: false } },
  { evt: 'x', payload: 'secret', key: 'k', privateKey: 'p', password: 'pw', csr: 'c', jws: 'j', certificate: 'pem', kept: 1 },
  { evt: 'x', client: { id: 'a', key: 'k', payload: Buffer.from('p') }, list: ['a', 'b'], n: null },
  { evt: 'x', nested: { deeper: { key: 'stays: two levels down' }, certificate: 'gone' } },
  { evt: 'x', err: secretError },
  { evt: 'x', err: new Error('plain') },
  { evt: 'x', arr: Object.assign(['a'], { key: 'gone' }) },
]

describe('audit redaction', () => {
  it('removes the same keys as pino\'s redact option, from lines and from child bindings', () => {
    const ours = new Lines()
    const ref = new Lines()
    const a = createAuditLogger({ destination: ours })
    const b = pinoRedacting(ref)
    for (const s of SAMPLES) { a.info(s, 'm'); b.info(s, 'm') }
    const bindings = { conn: { fp: 'ab', key: 'gone' }, payload: 'gone', role: 'vehicle' }
    a.child(bindings).warn({ evt: 'child' }, 'c')
    b.child(bindings).warn({ evt: 'child' }, 'c')
    a.child({ x: 1 }).child({ jws: 'gone' }).info({ evt: 'grandchild', client: { csr: 'gone' } }, 'g')
    b.child({ x: 1 }).child({ jws: 'gone' }).info({ evt: 'grandchild', client: { csr: 'gone' } }, 'g')
    const own = { formatters: { log: (o: object) => ({ ...o, extra: { key: 'gone', ok: true } }) } }
    a.child({ y: 2 }, own).info({ evt: 'own formatter' }, 'o')
    b.child({ y: 2 }, own).info({ evt: 'own formatter' }, 'o')
    expect(ours.lines).to.have.length(SAMPLES.length + 3)
    const strip = (l: Record<string, unknown>) => { const { time: _t, pid: _p, hostname: _h, ...rest } = l; return rest }
    expect(ours.lines.map(strip)).to.deep.equal(ref.lines.map(strip))
    expect(JSON.stringify(ours.lines)).not.to.include('PRIVATE')
    expect(ours.lines[1]).to.include({ kept: 1 }).and.not.to.have.any.keys('payload', 'key', 'privateKey', 'password', 'csr', 'jws', 'certificate')
  })

  it('leaves the caller\'s objects alone', () => {
    const obj = { evt: 'x', client: { id: 'a', key: 'k' }, payload: 'p' }
    createAuditLogger({ destination: new Lines() }).info(obj, 'm')
    expect(obj).to.deep.equal({ evt: 'x', client: { id: 'a', key: 'k' }, payload: 'p' })
  })
})
