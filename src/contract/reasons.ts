// Reasons: decisions about a client (ARCHITECTURE.md "Reasons and error codes").
// The same string goes into the audit line, the metrics label, the simulator's
// report and a car's signed result. Never mixed with operator error codes.

export const CONNECT_REASONS = [
  'no_client_auth', 'identity_injection', 'bad_vin', 'revoked', 'revocation_unavailable',
  'no_role', 'client_id_mismatch', 'will_denied', 'too_many_connections', 'session_store_unavailable', 'cert_expired', 'cert_inactive',
] as const
/** a TCP connection closed at accept, before any TLS byte is read (admission control, the PROXY header) */
export const ACCEPT_REASONS = [
  'connect_rate_exceeded', 'too_many_handshakes', 'max_connections_reached',
  'proxy_header_missing', 'proxy_header_invalid', 'proxy_header_timeout', 'proxy_source_denied',
  /** a TLS handshake that ended after the node began to drain: closed before CONNECT */
  'draining',
] as const
export const STREAM_REASONS = [
  'packet_too_large', 'connect_timeout', 'malformed_packet', 'protocol_violation', 'unsupported_protocol', 'too_many_inflight',
] as const
export const PUBLISH_REASONS = ['topic_denied', 'retained_command', 'command_rejected', 'too_many_unreleased', 'retain_denied', 'rate_limited'] as const
export const SUBSCRIBE_REASONS = ['filter_denied', 'too_many_denials'] as const
export const LIVE_REASONS = ['revoked', 'policy_changed', 'client_id_taken_over', 'draining', 'cert_expired', 'cert_inactive'] as const
/** a delivery dropped or held back, or a connection closed, because the subscriber does not read */
export const DELIVERY_REASONS = ['slow_consumer'] as const
export const COMMAND_REASONS = [
  'malformed', 'untrusted_signer', 'bad_signature', 'insufficient_privileges', 'wrong_vin',
  'ttl_too_long', 'not_yet_valid', 'expired', 'unknown_command', 'bad_args', 'replayed', 'unknown_key', 'role_forbids',
] as const
export const SESSION_REASONS = ['offline_queue_full', 'session_expired'] as const
export const PROVISIONING_REASONS = ['malformed', 'bad_csr', 'key_not_allowed', 'subject_mismatch', 'rate_limited'] as const

export type ConnectReason = typeof CONNECT_REASONS[number]
export type AcceptReason = typeof ACCEPT_REASONS[number]
export type StreamReason = typeof STREAM_REASONS[number]
export type PublishReason = typeof PUBLISH_REASONS[number]
export type SubscribeReason = typeof SUBSCRIBE_REASONS[number]
export type LiveReason = typeof LIVE_REASONS[number]
export type DeliveryReason = typeof DELIVERY_REASONS[number]
export type CommandReason = typeof COMMAND_REASONS[number]
export type ProvisioningReason = typeof PROVISIONING_REASONS[number]
export type SessionReason = typeof SESSION_REASONS[number]
export type Reason = AcceptReason | ConnectReason | StreamReason | PublishReason | SubscribeReason | LiveReason | DeliveryReason | CommandReason | ProvisioningReason | SessionReason

/** A refusal is a value, not an exception: pure checks return one of these. */
export type Decision<R extends Reason, T = undefined> =
  | (T extends undefined ? { ok: true } : { ok: true; value: T })
  | { ok: false; reason: R; detail?: string }
