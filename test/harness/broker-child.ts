// A fleetgate broker (startBroker) in a child process, so a test can kill it
// abruptly (SIGKILL: no close, no goodbye to Redis). argv[2]: the config as JSON.
import { startBroker } from '../../src/broker/index.js'
import { createAuditLogger } from '../../src/audit/index.js'

const input = JSON.parse(process.argv[2]!) as Record<string, string | number | boolean>
startBroker(input, { logger: createAuditLogger({ level: 'silent' }) }).then((running) => {
  process.send!({ port: running.port })
}, (err: unknown) => {
  process.stderr.write(`child broker failed: ${String(err)}\n`)
  process.exit(1)
})
