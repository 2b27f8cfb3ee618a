// The broker-side signed-command check (--enforce-signed-commands, README
// "Signed commands"): on vehicles/{vin}/commands the broker verifies shape, x5c chain, ES256
// signature, signer role and that the payload's vin is the topic's VIN (the
// same pure verifyCommand as the car, scope 'authenticity'), then the signer
// against revocation (the car cannot reach the store). A command signed by a
// user key (kid) is checked for shape and VIN only: the key list is the car's. A refusal closes the
// publisher's connection: reason command_rejected, the command reason in the
// audit line (commandReason). Freshness, the allowlist and replay stay with
// the car: its clock and its seen-jti set are the ones that count, and a
// cluster's nodes share no replay state.
import type { PublishPacket } from 'aedes'
import type { PublishCheck, CheckResult } from '../contract/checks.js'
import type { SessionView } from '../contract/checks.js'
import { commandTopicVin } from '../contract/topics.js'
import type { CommandReason, PublishReason } from '../contract/reasons.js'
import { SignerVerifier, MAX_JWS_BYTES, verifyCommand, type CommandPolicy, type CommandTrust } from '../commands/index.js'

/**
 * true when the signer is revoked: its leaf (fingerprint, or issuing CA + serial) or its
 * issuing CA (fingerprint, or root + the CA's serial), as at CONNECT. Rejects when the store cannot answer.
 */
export type SignerRevocationLookup = (leafFingerprint: string, issuerFingerprint: string, serial: string,
  issuingCa?: { readonly serial: string; readonly rootFingerprint: string }) => Promise<boolean>

export interface CommandEdgeOptions extends CommandPolicy {
  readonly trust: CommandTrust
  readonly isRevoked?: SignerRevocationLookup
  /** admit a command when the revocation store cannot answer (default: refuse) */
  readonly revocationFailOpen?: boolean
  readonly now?: () => number
}

function rejected (commandReason: CommandReason, extra: Record<string, string> = {}): CheckResult<PublishReason> {
  return { ok: false, reason: 'command_rejected', detail: commandReason, audit: { commandReason, ...extra } }
}

const NOT_A_COMMAND: CheckResult<PublishReason> = Object.freeze({ ok: true })

export function commandEdgeCheck (opts: CommandEdgeOptions): PublishCheck {
  const chains = new SignerVerifier(opts.trust)
  const now = opts.now ?? Date.now
  // Not async: every topic but a command topic is answered at once, with no promise per message.
  return function signedCommandEdgeCheck (_session: SessionView, packet: PublishPacket): CheckResult<PublishReason> | Promise<CheckResult<PublishReason>> {
    const vin = commandTopicVin(packet.topic)
    if (vin === null) return NOT_A_COMMAND
    return checkCommand(packet, vin)
  }

  async function checkCommand (packet: PublishPacket, vin: string): Promise<CheckResult<PublishReason>> {
    const raw = packet.payload
    const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length
    if (size > MAX_JWS_BYTES) return rejected('malformed')
    const jws = typeof raw === 'string' ? raw : raw.toString('latin1')
    const d = await verifyCommand(jws, { chains, vin, topicVin: vin, now: now(), scope: 'authenticity' }, opts)
    if (!d.ok) return rejected(d.reason, d.jti !== undefined ? { jti: d.jti } : {})
    // a kid-signed command (a user key of the car's list) has no certificate: the car alone judges it
    const signer = d.signer
    if (opts.isRevoked && signer !== undefined) {
      let revoked: boolean
      try {
        revoked = await opts.isRevoked(signer.fingerprint, signer.issuerFingerprint, signer.serial, { serial: signer.issuerSerial, rootFingerprint: signer.rootFingerprint })
      } catch {
        if (opts.revocationFailOpen === true) return { ok: true }
        return rejected('untrusted_signer', { jti: d.command.jti, signer: signer.fingerprint.slice(0, 16), revocation: 'unavailable' })
      }
      if (revoked) return rejected('untrusted_signer', { jti: d.command.jti, signer: signer.fingerprint.slice(0, 16), revocation: 'revoked' })
    }
    return { ok: true }
  }
}
