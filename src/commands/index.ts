// Signed commands (README "Signed commands"): pure sign/verify, the allowlist,
// x5c chain trust and the replay set. No I/O.
export {
  COMMAND_NAMES, type CommandName, isCommandName, argsValid,
  type CommandRoles, DEFAULT_COMMAND_ROLES, roleMaySend,
} from './catalogue.js'
export {
  MAX_JWS_BYTES, type CommandPayload, type ResultPayload, type ResultStatus, type JwsHeader, type ParsedJws,
  type ShapeResult, isUuid, parseCommandJws, parseResultJws,
} from './envelope.js'
export { type CommandTrust, type Signer, type ChainResult, commandTrust, SignerVerifier } from './trust.js'
export { ReplayCache, DEFAULT_REPLAY_CAPACITY, type ReplayOutcome } from './replay.js'
export {
  verifyCommand, DEFAULT_SKEW_MS, DEFAULT_MAX_LIFETIME_MS,
  type CommandPolicy, type VerifyContext, type VerifiedCommand, type CommandDecision,
} from './verify.js'
export { type SigningKey, type CommandInput, signJws, commandPayload, signCommand, signResult } from './sign.js'
export { verifyResult, type ResultContext, type ResultDecision } from './result.js'
