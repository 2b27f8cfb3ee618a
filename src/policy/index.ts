// Policy module: which role a certificate has and what its connection may do.
export { parsePolicy } from './parse.js'
export { loadPolicyFile, defaultPolicyPath } from './load.js'
export { isVin } from './vin.js'
export { isSafeIdentityValue } from '../identity/index.js'
export type { Policy, Grant, PolicyDecision, PolicyRefusal } from './types.js'
export { pinIssuerKeys } from './pin.js'
export { QUARANTINE_ROLE } from './resolve.js'
