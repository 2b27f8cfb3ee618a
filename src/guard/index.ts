export { PacketScanner, type Oversize } from './packet-scanner.js'
export { guardReads } from './read-guard.js'
export { ConnectionLimiter } from './connection-limiter.js'
export { admitConnection, type Admission, type AdmitOptions } from './admit.js'
