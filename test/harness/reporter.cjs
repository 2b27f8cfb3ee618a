// Mocha's spec reporter, plus the closing line CI reads: "N passed, N failed".
const Mocha = require('mocha')
const { EVENT_RUN_END } = Mocha.Runner.constants

class FleetgateReporter extends Mocha.reporters.Spec {
  constructor (runner, options) {
    super(runner, options)
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {}
      const skipped = s.pending ? `, ${s.pending} skipped` : ''
      process.stdout.write(`\n${s.passes || 0} passed, ${s.failures || 0} failed${skipped}\n`)
    })
  }
}
module.exports = FleetgateReporter
