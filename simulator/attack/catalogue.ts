// The attack catalogue, in run order. Revocation comes late: it revokes a
// certificate for good; provisioning last (it runs its own provisioner).
import type { Attack } from './types.js'
import { clientIdTakeover, expiredCertificate, noCertificate, noClientAuth, prefixSessionTheft, rogueCa, serverEku, willOnCommands } from './connect-attacks.js'
import { publishForeign, retainedCommand, retainedFlood, subscribeDenyFlood, sysDiscovery, wildcardOnline, wildcardPersistent } from './topic-attacks.js'
import {
  algNone, badArgs, expiredCommand, forgedSignature, noPrivilege, payloadTampering, replay, unknownCommand, untrustedSigner, wrongVin,
  signerServerEku, signerNoEku, signerKeyEncipherment, signerTwoOus,
} from './command-attacks.js'
import { KEY_ATTACKS } from './key-attacks.js'
import { connectionFlood, neverConnect, oversizedPacket } from './transport-attacks.js'
import { revokedCertificate, revokedLiveSession } from './revocation-attacks.js'
import { recoveryLockout } from './provisioning-attacks.js'
import {
  badRemainingLength, emptyTopic, nulInTopic, protocolLevel5, publishQos3, qos2Accumulation, qos2NeverReleased, reservedFlags, secondConnect, silentConnections,
  stuckSubscriber, wrongProtocolName,
} from './protocol-attacks.js'

export const CATALOGUE: readonly Attack[] = [
  noCertificate, rogueCa, expiredCertificate, noClientAuth, serverEku,
  clientIdTakeover, prefixSessionTheft, willOnCommands,
  wildcardOnline, wildcardPersistent, sysDiscovery, publishForeign, retainedCommand, retainedFlood, subscribeDenyFlood,
  forgedSignature, payloadTampering, replay, expiredCommand, wrongVin, untrustedSigner, noPrivilege, algNone, unknownCommand, badArgs,
  signerServerEku, signerNoEku, signerKeyEncipherment, signerTwoOus,
  ...KEY_ATTACKS,
  oversizedPacket, neverConnect, connectionFlood,
  badRemainingLength, wrongProtocolName, protocolLevel5, reservedFlags, secondConnect, publishQos3, emptyTopic, nulInTopic,
  qos2NeverReleased, qos2Accumulation, silentConnections, stuckSubscriber,
  revokedLiveSession, revokedCertificate,
  recoveryLockout,
]

/** The attacks named in `only` (ids), in catalogue order; unknown ids are returned separately. */
export function selectAttacks (only: readonly string[] | undefined): { attacks: Attack[]; unknown: string[] } {
  if (!only || only.length === 0) return { attacks: [...CATALOGUE], unknown: [] }
  const ids = new Set(CATALOGUE.map((a) => a.id))
  return { attacks: CATALOGUE.filter((a) => only.includes(a.id)), unknown: only.filter((id) => !ids.has(id)) }
}
