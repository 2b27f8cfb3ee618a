// Signed commands (README "Signed commands"): pure sign/verify, the allowlist,
// x5c chain trust, the car's key list and roles, and the replay set. No I/O.
export {
  COMMAND_NAMES, type CommandName, isCommandName, argsValid, argsProblem, isKeyCommand,
  type CommandRoles, DEFAULT_COMMAND_ROLES, roleMaySend, roleMayCommand,
} from './catalogue.js'
export {
  MAX_JWS_BYTES, type CommandPayload, type ResultPayload, type ResultStatus, type JwsHeader, type ParsedJws, type KeyRecordPayload,
  type ShapeResult, isUuid, parseCommandJws, parseResultJws, parseKeyRecordJws,
} from './envelope.js'
export { type CommandTrust, type Signer, type ChainResult, commandTrust, SignerVerifier } from './trust.js'
export { ReplayCache, DEFAULT_REPLAY_CAPACITY, type ReplayOutcome } from './replay.js'
export {
  verifyCommand, DEFAULT_SKEW_MS, DEFAULT_MAX_LIFETIME_MS,
  type CommandPolicy, type VerifyContext, type VerifiedCommand, type CommandDecision, type CarKeys,
} from './verify.js'
export {
  type SigningKey, type UserSigningKey, type CommandInput, type ResultExtras, signJws, commandPayload, signCommand, signResult, signKeyRecord,
} from './sign.js'
export { verifyResult, verifyKeyRecord, type ResultContext, type ResultDecision, type KeyRecordDecision } from './result.js'
export {
  KEY_ROLES, type KeyRole, KEY_COMMANDS, type KeyCommandName, VEHICLE_COMMANDS, ROLE_TABLE, ADDABLE_ROLES, DEFAULT_BACKEND_ROLE, BACKEND_OU,
  MAX_KEYS, MAX_KEY_WINDOW_MS, isKeyRole, roleAllows, isThumbprint, publicJwkProblem, thumbprintOf, publicJwkOf, jwkKey,
  emptyKeyList, findKey, certificateRole, keyListView, planKeyChange, transferTo, pairOwner, wipeKeyList, parseKeyList,
  type PublicJwk, type UserKey, type KeyList, type KeyEntryView, type KeyChange, type KeyPlan,
} from './keys.js'
