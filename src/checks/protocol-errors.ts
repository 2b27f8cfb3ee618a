// What ended a connection, from the error Aedes reports ('clientError' after
// CONNECT, 'connectionError' before): its parser (mqtt-packet) and its
// handlers give no codes, only messages, so the messages of the pinned
// versions (aedes 1.2.0, mqtt-packet 9.0.2) are mapped here, in one place, to
// stable reasons. Pure. Errors not listed (a peer's reset, fleetgate's own
// refusals, which are audited where they are decided) give null.
import type { StreamReason } from '../contract/reasons.js'

export interface ProtocolError { readonly reason: StreamReason; readonly detail: string }

/** Aedes' handlers: well-formed packets that MQTT 3.1.1 forbids. First match wins. */
const AEDES: ReadonlyArray<readonly [RegExp, StreamReason]> = [
  // a second CONNECT [MQTT-3.1.0-2], or a packet before CONNECT [MQTT-3.1.0-1]
  [/^Invalid protocol$/, 'protocol_violation'],
  [/^(empty topic|# is|\+ is) not allowed in PUBLISH$/, 'protocol_violation'],
  [/^topic has too many levels$/, 'protocol_violation'],
  [/^Client queue limit reached$/, 'protocol_violation'],
  // CONNACK 1 [MQTT-3.1.2-2]: e.g. an MQTT 5 client
  [/^unacceptable protocol version$/, 'unsupported_protocol'],
  // QoS 2 PUBLISHes never released past Aedes' maxInflightInbound
  [/^maxInflightInbound exceeded/, 'too_many_inflight'],
]

/** mqtt-packet's parser: bytes that are not an MQTT packet. */
const PARSER = /^(Cannot parse|Invalid|Malformed|Packet too short|Packet must not|Connect flag|Will (QoS|Retain)|Not supported|Unknown property)/

export function classifyProtocolError (err: Error | undefined | null): ProtocolError | null {
  const message = typeof err?.message === 'string' ? err.message : ''
  if (message === '') return null
  const detail = message.slice(0, 120)
  for (const [re, reason] of AEDES) if (re.test(message)) return { reason, detail }
  if (PARSER.test(message)) return { reason: 'malformed_packet', detail }
  return null
}
