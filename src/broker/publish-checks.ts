// The extra PUBLISH checks the broker runs after the topic rules (ARCHITECTURE.md
// step 7): the hold while the store is unreachable (a failover), the caller's own, then the signed-command edge check when
// --enforce-signed-commands is on. The edge trusts the --ca roots and the
// broker's issuing CA, and is rebuilt by a reload: a trust bundle that drops a CA
// drops its signers too.
import type { PublishPacket } from 'aedes'
import type { Config } from '../config/index.js'
import type { PublishCheck, SessionView } from '../contract/checks.js'
import { commandEdgeCheck, edgeCommandTrust, type SignerRevocationLookup } from '../checks/index.js'
import type { LoadedTlsMaterial } from '../tls/index.js'

export interface PublishChecks {
  readonly checks: readonly PublishCheck[]
  /** a reload loaded new TLS material: the edge's signer trust follows it */
  retrust (material: LoadedTlsMaterial): void
}

/** `stall`: the hold while the store is unreachable (checks/store-stall.ts), first of all */
export function composePublishChecks (config: Config, material: LoadedTlsMaterial, isSignerRevoked: SignerRevocationLookup, own: readonly PublishCheck[] = [], stall?: PublishCheck): PublishChecks {
  const first = stall ? [stall] : []
  if (!config.enforceSignedCommands) return { checks: [...first, ...own], retrust () {} }
  const makeEdge = (m: LoadedTlsMaterial): PublishCheck => commandEdgeCheck({ trust: edgeCommandTrust(m.caDer, m.cert), isRevoked: isSignerRevoked, revocationFailOpen: config.revocationFailOpen })
  let edge = makeEdge(material)
  return {
    checks: [...first, ...own, function edgeCommands (session: SessionView, packet: PublishPacket) { return edge(session, packet) }],
    retrust (m) { edge = makeEdge(m) },
  }
}
