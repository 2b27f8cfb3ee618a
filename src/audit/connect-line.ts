// The connect.allow line, the one audit line of every admitted CONNECT (a reconnect
// storm writes one per car). Through pino it cost about 6-10 % of fleetgate's CPU
// per resumed connect in the broker (issue 17's paired rounds; pino walks and
// stringifies every field and nested object of every line). Here the line is the
// same bytes, put together from parts: the certificate's fields are serialised
// once per identity (identities are cached per certificate), and the few strings
// that change per connect are escaped with JSON.stringify. Only for loggers made
// by createAuditLogger, whose format is known; any other logger gets pino's call.
import { pino } from 'pino'
import type { Identity } from '../identity/index.js'
import { isoTime, type AuditLogger } from './logger.js'
import { clip, identityFields } from './serializers.js'
import { isOwnFormat } from './own-format.js'

export interface ConnectAllowFields {
  readonly identity: Identity
  readonly clientId: string
  readonly role: string
  readonly remote: string | undefined
  readonly resumed: boolean
}

/** the parts of a line that depend on the identity only: `"conn":{"fp":..,"clientId":` and `,"cert":{...}` */
const identityParts = new WeakMap<Identity, readonly [string, string]>()

function partsOf (identity: Identity): readonly [string, string] {
  let parts = identityParts.get(identity)
  if (parts === undefined) {
    parts = [`"conn":{"fp":${JSON.stringify(identity.fingerprint.slice(0, 16))},"clientId":`, `,"cert":${JSON.stringify(identityFields(identity))}`]
    identityParts.set(identity, parts)
  }
  return parts
}

interface PinoInternals {
  readonly [pino.symbols.streamSym]: { write (line: string): unknown; readonly [pino.symbols.needsMetadataGsym]?: boolean }
  readonly [pino.symbols.chindingsSym]: string
}

/** the fields as pino's call takes them (the format the fast line reproduces) */
function connectAllowObject (f: ConnectAllowFields): Record<string, unknown> {
  const { identity } = f
  return { evt: 'connect.allow', conn: { fp: identity.fingerprint.slice(0, 16), clientId: clip(f.clientId) }, role: f.role, cert: identityFields(identity), remote: f.remote, tls: { resumed: f.resumed } }
}

export const CONNECT_ALLOW_MSG = 'connect allowed'

/** Audit an admitted CONNECT (evt connect.allow, level info). */
export function auditConnectAllow (log: AuditLogger, f: ConnectAllowFields): void {
  if (!log.isLevelEnabled('info')) return
  const internals = log as unknown as PinoInternals
  const stream = internals[pino.symbols.streamSym]
  const clientId = clip(f.clientId)
  // another logger's format, or a multistream (it wants the level and message beside the line): pino's own call
  if (!isOwnFormat(log) || stream[pino.symbols.needsMetadataGsym] === true || clientId === undefined) {
    connectAllowViaPino(log, f)
    return
  }
  const [conn, cert] = partsOf(f.identity)
  // pino escapes a top-level string as JSON.stringify does, but for lone surrogates: the role
  // (a policy role name) and the address (an IP's text) have none
  stream.write(`{"level":"info"${isoTime()}${internals[pino.symbols.chindingsSym]},"evt":"connect.allow",${conn}${JSON.stringify(clientId)}},"role":${JSON.stringify(f.role)}${cert}${f.remote !== undefined ? `,"remote":${JSON.stringify(f.remote)}` : ''},"tls":{"resumed":${f.resumed}},"msg":"${CONNECT_ALLOW_MSG}"}\n`)
}

/** pino's line for the same fields (the tests compare the two) */
export function connectAllowViaPino (log: AuditLogger, f: ConnectAllowFields): void {
  log.info(connectAllowObject(f), CONNECT_ALLOW_MSG)
}
