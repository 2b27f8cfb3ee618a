// The audit line's time field: the same text as pino's isoTime, made faster.
import { expect } from 'chai'
import { pino } from 'pino'
import { isoTime, isoTimeAt } from '../../../src/audit/logger.js'

describe('audit: isoTime', () => {
  it('writes what pino\'s isoTime writes, at every millisecond of a second, across second and day boundaries, in any order', () => {
    const base = Date.parse('2026-12-31T23:59:58.000Z')
    const times = [...Array.from({ length: 3000 }, (_, i) => base + i), 0, 1, 999, Date.parse('2100-02-28T23:59:59.999Z'), base + 5, base - 1, base + 1999]
    for (const t of times) expect(isoTimeAt(t), String(t)).to.equal(`,"time":"${new Date(t).toISOString()}"`)
  })

  it('is the current time', () => {
    const before = Date.now()
    const text = isoTime()
    const after = Date.now()
    const t = Date.parse((JSON.parse('{' + text.slice(1) + '}') as { time: string }).time)
    expect(t).to.be.within(before, after)
    expect(text).to.match(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/)
    expect(pino.stdTimeFunctions.isoTime().length).to.equal(text.length)
  })
})
