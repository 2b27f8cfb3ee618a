// The flag checks shared by the commands: the lines users see are contracts.
import { expect } from 'chai'
import { isFleetgateError } from '../../../src/contract/errors.js'
import { countFlag, durationFlag, requireFlags } from '../../../src/cli/program.js'
import { telemetryIntervalFlag } from '../../../simulator/cli/flags.js'

function line (fn: () => unknown): string {
  try { fn() } catch (err) { return isFleetgateError(err) ? err.toLine() : String(err) }
  return 'no error'
}

describe('cli: shared flag checks', () => {
  it('requireFlags names the first absent or empty flag as it is typed (--state-dir, not the option key stateDir)', () => {
    expect(line(() => requireFlags({ url: 'u', ca: '' }, ['url', 'ca']))).to.equal('FG_ERR_CONFIG_MISSING: --ca is required')
    expect(line(() => requireFlags({ url: 'u' }, ['url', 'stateDir']))).to.equal('FG_ERR_CONFIG_MISSING: --state-dir is required')
    expect(line(() => requireFlags({ url: 'u' }, ['url']))).to.equal('no error')
  })

  it('durationFlag: `<flag> <text>: <expected>` when not a duration or refused', () => {
    expect(durationFlag('--ttl', '30s', 'not a duration')).to.equal(30_000)
    expect(line(() => durationFlag('--ttl', 'abc', 'not a duration'))).to.equal('FG_ERR_CONFIG_INVALID: --ttl abc: not a duration')
    expect(line(() => durationFlag('--timeout', '0', 'not a positive duration', (ms) => ms > 0))).to.equal('FG_ERR_CONFIG_INVALID: --timeout 0: not a positive duration')
    expect(telemetryIntervalFlag('0')).to.equal(0)
    expect(line(() => telemetryIntervalFlag('25h'))).to.equal('FG_ERR_CONFIG_INVALID: --telemetry-interval 25h: not a duration (e.g. 5s, 500ms, 0)')
  })

  it('countFlag: 1 to max; digitsOnly refuses what Number() would read', () => {
    expect(countFlag('--vehicles', '0x10', 100, 'an integer from 1 to 100')).to.equal(16)
    expect(line(() => countFlag('--vehicles', '101', 100, 'an integer from 1 to 100'))).to.equal('FG_ERR_CONFIG_INVALID: --vehicles 101: an integer from 1 to 100')
    expect(line(() => countFlag('--count', '1e2', 100, 'expected a whole number from 1 to 100', true))).to.equal('FG_ERR_CONFIG_INVALID: --count 1e2: expected a whole number from 1 to 100')
    expect(countFlag('--count', '100', 100, 'expected a whole number from 1 to 100', true)).to.equal(100)
  })
})
