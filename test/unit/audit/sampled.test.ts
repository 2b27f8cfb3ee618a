import { expect } from 'chai'
import { SampledAudit } from '../../../src/audit/index.js'
import { AuditSink } from '../../harness/audit-sink.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('SampledAudit: a storm of refusals is a few lines, every refusal counted', () => {
  it('writes the first at once, then one line per window with the count not written, then stops', async () => {
    const sink = new AuditSink()
    const audit = new SampledAudit(sink.logger, 100)
    for (let i = 0; i < 500; i++) audit.warn('accept.deny', 'connect_rate_exceeded', { remote: `10.0.0.${i % 250}` }, 'refused')
    audit.warn('accept.deny', 'proxy_header_missing', { remote: '10.0.0.1' }, 'refused')
    expect(sink.lines).to.have.length(2)
    expect(sink.lines[0]).to.include({ evt: 'accept.deny', reason: 'connect_rate_exceeded', remote: '10.0.0.0' })
    expect(sink.lines[0]).to.not.have.property('suppressed')
    await sleep(150)
    const second = sink.find('accept.deny', { reason: 'connect_rate_exceeded' })
    expect(second).to.have.length(2)
    expect(second[1]).to.include({ suppressed: 499, windowMs: 100 })
    // a quiet window ends the run: the next refusal is written at once again
    await sleep(250)
    audit.warn('accept.deny', 'connect_rate_exceeded', { remote: '10.0.0.9' }, 'refused')
    expect(sink.find('accept.deny', { reason: 'connect_rate_exceeded' })).to.have.length(3)
    audit.close()
  })

  it('close() writes what is still counted', () => {
    const sink = new AuditSink()
    const audit = new SampledAudit(sink.logger, 10_000)
    for (let i = 0; i < 3; i++) audit.warn('accept.deny', 'max_connections_reached', {}, 'refused')
    audit.close()
    expect(sink.lines.map((l) => l.suppressed)).to.deep.equal([undefined, 2])
  })
})
