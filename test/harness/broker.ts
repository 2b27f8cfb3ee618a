// A fleetgate broker on an ephemeral loopback port, with its audit lines in memory.
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { startBroker, type RunningBroker, type StartOptions } from '../../src/broker/index.js'
import type { ConfigInput } from '../../src/config/index.js'
import { AuditSink } from './audit-sink.js'

export interface TestBroker extends RunningBroker {
  readonly audit: AuditSink
}

export async function startTestBroker (pkiDir: string, input: ConfigInput = {}, opts: StartOptions = {}): Promise<TestBroker> {
  const audit = new AuditSink('debug')
  const running = await startBroker({
    port: 0,
    host: '127.0.0.1',
    ca: join(pkiDir, 'root-ca.pem'),
    cert: join(pkiDir, 'broker', 'cert.pem'),
    key: join(pkiDir, 'broker', 'key.pem'),
    // each broker its own embedded store unless the test shares one on purpose
    dataDir: mkdtempSync(join(tmpdir(), 'fg-data-')),
    ...input,
  }, { logger: audit.logger, ...opts })
  return Object.assign(Object.create(running) as RunningBroker, running, { audit }) as TestBroker
}
