export { PacketScanner, type Oversize } from './packet-scanner.js'
export { GuardedStream, type GuardOptions } from './guarded-stream.js'
export { ConnectionLimiter } from './connection-limiter.js'
export { admitConnection, type Admission } from './admit.js'
