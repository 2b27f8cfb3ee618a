// The key-list commands of `fleetgate sim` (README "Signed commands", "Pairing"):
// `sim phone` (a user's phone: keygen, send, add-key, remove-key, transfer),
// `sim backend keys` (a car's key list as the fleet last saw it) and `sim scrap`
// (revoke a scrapped car's certificate and wipe its key list).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import {
  addStoreOptions, durationFlag, newCommand, openCliStores, requireFlags, revokeTargets, ExitCode, type StoreFlags,
} from '../../src/cli/index.js'
import {
  ADDABLE_ROLES, fgError, isFleetgateError, isSafeIdentityValue, isThumbprint, readFlagFile, REVOCATION_STORES,
} from '../../src/index.js'
import { credentialsFromFiles } from '../credentials.js'
import { readKeyRecord } from '../key-record.js'
import { publicJwkFromPem, KEYS_FILE, openKeyStore, applyLocalStep } from '../car-keys.js'
import { connectPhone, makePhoneKey, readPhoneKey } from '../phone.js'
import { jsonLine, safe } from '../print.js'
import type { CommandOutcome } from '../backend.js'

interface ConnFlags { url?: string; ca?: string; cert?: string; key?: string; vin?: string; timeout: string; json?: boolean }
interface PhoneFlags extends ConnFlags { keyFile?: string }

function connectionOptions (cmd: Command, certHelp: string): Command {
  return cmd
    .option('--url <url>', 'broker, mqtts://host:port')
    .option('--ca <file>', 'PEM fleet root CA')
    .option('--cert <file>', certHelp)
    .option('--key <file>', 'PEM private key of that certificate (TLS only)')
    .option('--vin <vin>', 'the car')
    .option('--timeout <duration>', 'how long to wait for the car\'s answer', '10s')
    .option('--json', 'print the outcome as one JSON line')
}

function phoneOptions (cmd: Command): Command {
  return connectionOptions(cmd, 'PEM chain: the phone\'s certificate (OU=phone) + issuing CA, for the broker; it gives no authority over a car')
    .option('--key-file <file>', 'the phone\'s own key (PEM, from `sim phone keygen`): it signs the command (JWS header kid)')
}

function vinFlag (vin: string): string {
  if (!isSafeIdentityValue(vin)) throw fgError('FG_ERR_CONFIG_INVALID', `--vin ${JSON.stringify(vin)}: holds + # / or a control character`)
  return vin
}

/** Send one command signed by the phone's key and print the car's verified answer; exit 1 unless executed. */
async function phoneSend (flags: PhoneFlags, cmd: string, args: Record<string, unknown>): Promise<void> {
  requireFlags(flags, ['url', 'ca', 'cert', 'key', 'keyFile', 'vin'])
  const vin = vinFlag(flags.vin!)
  const timeout = durationFlag('--timeout', flags.timeout, 'not a positive duration', (ms) => ms > 0)
  const creds = credentialsFromFiles({ ca: flags.ca!, cert: flags.cert!, key: flags.key! })
  const phone = await readPhoneKey(flags.keyFile!)
  let conn
  try {
    conn = await connectPhone(flags.url!, creds, phone)
  } catch (err) {
    if (isFleetgateError(err)) throw err
    process.stderr.write(`not connected to ${flags.url}: ${safe((err as Error).message, 200)}\n`)
    throw new ExitCode(1)
  }
  let out: CommandOutcome & { jti: string }
  try {
    out = await conn.send({ vin, cmd, args, ttlMs: 30_000 }, { timeoutMs: timeout })
  } catch (err) {
    process.stderr.write(`${safe(cmd)} to ${vin} not sent: ${safe((err as Error).message, 200)}\n`)
    throw new ExitCode(1)
  } finally {
    await conn.close()
  }
  printOutcome(flags.json === true, vin, cmd, out, phone.kid, timeout)
  if (out.kind !== 'result' || out.result.status !== 'executed') throw new ExitCode(1)
}

function printOutcome (json: boolean, vin: string, cmd: string, out: CommandOutcome & { jti: string }, kid: string, timeout: number): void {
  if (json) {
    const base = { evt: 'result', vin, cmd, jti: out.jti, kid, rttMs: Math.round(out.rttMs * 100) / 100 }
    process.stdout.write(jsonLine(out.kind === 'result'
      ? { ...base, status: out.result.status, reason: out.result.reason, by: out.result.by, change: out.result.change }
      : { ...base, status: out.kind }) + '\n')
    return
  }
  const ms = Math.round(out.rttMs)
  if (out.kind === 'result') {
    process.stdout.write(out.result.status === 'executed'
      ? `executed ${safe(cmd)} for ${vin} in ${ms} ms (key ${kid})\n`
      : `rejected ${safe(cmd)} for ${vin}: ${safe(out.result.reason)} (in ${ms} ms, key ${kid})\n`)
  } else if (out.kind === 'closed') {
    process.stdout.write(`no result for ${safe(cmd)} to ${vin}: the broker closed the connection\n`)
  } else {
    process.stdout.write(`no signed result for ${safe(cmd)} to ${vin} within ${timeout} ms\n`)
  }
}

function jsonArgs (text: string): Record<string, unknown> {
  let args: unknown
  try { args = JSON.parse(text) } catch { throw fgError('FG_ERR_CONFIG_INVALID', '--args: not valid JSON') }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) throw fgError('FG_ERR_CONFIG_INVALID', '--args: must be a JSON object')
  return args as Record<string, unknown>
}

function labelFlag (label: string | undefined): string {
  if (label === undefined || label === '' || label.length > 64) throw fgError('FG_ERR_CONFIG_INVALID', '--label: 1 to 64 characters')
  return label
}

export function simPhoneCommand (): Command {
  const phone = newCommand('phone', 'a user\'s phone: its own key (keygen), commands signed with it (send), and an owner\'s pairing commands (add-key, remove-key, transfer)')

  phone.addCommand(newCommand('keygen', 'make the phone\'s key (P-256): the private key file and the public key file an owner enrols (the pairing request); prints its kid')
    .option('--key-file <file>', 'where to write the private key (PEM, mode 0600; never overwritten)')
    .option('--public <file>', 'where to write the public key (PEM) to hand to an owner (default <key-file>.pub.pem)')
    .option('--json', 'print kid and files as one JSON line')
    .action(async (flags: { keyFile?: string; public?: string; json?: boolean }) => {
      requireFlags(flags, ['keyFile'])
      const publicFile = flags.public ?? `${flags.keyFile!}.pub.pem`
      const key = await makePhoneKey(flags.keyFile!, publicFile)
      process.stdout.write(flags.json === true
        ? jsonLine({ evt: 'keygen', kid: key.kid, keyFile: flags.keyFile, public: publicFile }) + '\n'
        : `phone key ${key.kid}\n  private key: ${flags.keyFile!}\n  public key:  ${publicFile} (ask an owner of the car to enrol it: fleetgate sim phone add-key --public ${publicFile} ...)\n`)
    }))

  phone.addCommand(phoneOptions(newCommand('send', 'send one command signed with the phone\'s key; exit 0 only if the car executed it'))
    .option('--cmd <name>', 'lock, unlock, honk, flash_lights, climate_on, climate_off, remote_start, set_charge_limit, diagnostics')
    .option('--args <json>', 'command arguments as a JSON object, e.g. {"percent":80}', '{}')
    .action(async (flags: PhoneFlags & { cmd?: string; args: string }) => {
      requireFlags(flags, ['cmd'])
      await phoneSend(flags, flags.cmd!, jsonArgs(flags.args))
    }))

  phone.addCommand(phoneOptions(newCommand('add-key', 'as an owner: enrol another key in the car\'s list (add_key)'))
    .option('--public <file>', 'PEM public key to enrol (from `sim phone keygen`)')
    .option('--role <role>', `its role: ${ADDABLE_ROLES.join(', ')}`)
    .option('--label <text>', 'a name for it (1-64 characters)')
    .option('--for <duration>', 'time-boxed: the key ends this long from now (required for service, at most 90 days)')
    .action(async (flags: PhoneFlags & { public?: string; role?: string; label?: string; for?: string }) => {
      requireFlags(flags, ['public', 'role', 'label'])
      if (!(ADDABLE_ROLES as readonly string[]).includes(flags.role!)) throw fgError('FG_ERR_CONFIG_INVALID', `--role ${JSON.stringify(flags.role)}: must be one of ${ADDABLE_ROLES.join(', ')}`)
      const jwk = publicJwkFromPem(readFlagFile(flags.public!, '--public'), `--public ${flags.public!}`)
      const args: Record<string, unknown> = { jwk, role: flags.role, label: labelFlag(flags.label) }
      if (flags.for !== undefined) args.until = Date.now() + durationFlag('--for', flags.for, 'a positive duration', (ms) => ms > 0)
      await phoneSend(flags, 'add_key', args)
    }))

  phone.addCommand(phoneOptions(newCommand('remove-key', 'as an owner: remove a key from the car\'s list (remove_key); the last owner key cannot be removed'))
    .option('--kid <thumbprint>', 'the key to remove (its kid, as `sim backend keys` shows it)')
    .action(async (flags: PhoneFlags & { kid?: string }) => {
      requireFlags(flags, ['kid'])
      if (!isThumbprint(flags.kid)) throw fgError('FG_ERR_CONFIG_INVALID', `--kid ${JSON.stringify(flags.kid)}: not a key thumbprint (43 base64url characters)`)
      await phoneSend(flags, 'remove_key', { kid: flags.kid })
    }))

  phone.addCommand(phoneOptions(newCommand('transfer', 'as an owner: hand the car to a new owner (transfer): every key but the fleet backend\'s entry is cleared, the new owner\'s key enrolled'))
    .option('--public <file>', 'PEM public key of the new owner')
    .option('--label <text>', 'a name for the new owner\'s key', 'owner')
    .action(async (flags: PhoneFlags & { public?: string; label: string }) => {
      requireFlags(flags, ['public'])
      const jwk = publicJwkFromPem(readFlagFile(flags.public!, '--public'), `--public ${flags.public!}`)
      await phoneSend(flags, 'transfer', { jwk, label: labelFlag(flags.label) })
    }))
  return phone
}

export function simBackendKeysCommand (): Command {
  return connectionOptions(newCommand('keys', 'show a car\'s key list as the fleet last saw it (the car\'s signed, retained record; its signature is verified); exit 1 when there is none'),
    'PEM chain: the backend certificate + issuing CA')
    .action(async (flags: ConnFlags) => {
      requireFlags(flags, ['url', 'ca', 'cert', 'key', 'vin'])
      const vin = vinFlag(flags.vin!)
      const timeout = durationFlag('--timeout', flags.timeout, 'not a positive duration', (ms) => ms > 0)
      const creds = credentialsFromFiles({ ca: flags.ca!, cert: flags.cert!, key: flags.key! })
      let out
      try {
        out = await readKeyRecord(flags.url!, creds, vin, Math.min(timeout, 5000))
      } catch (err) {
        process.stderr.write(`not connected to ${flags.url}: ${safe((err as Error).message, 200)}\n`)
        throw new ExitCode(1)
      }
      if (out === null || 'problem' in out) {
        process.stdout.write(out === null ? `no key list recorded for ${vin}\n` : `the key list recorded for ${vin} is not believed: ${safe(out.problem, 200)}\n`)
        throw new ExitCode(1)
      }
      const r = out.record
      if (flags.json === true) {
        process.stdout.write(jsonLine({ evt: 'keys', vin, seq: r.seq, ts: r.ts, keys: r.keys }) + '\n')
        return
      }
      process.stdout.write(`key list of ${vin} #${r.seq} as of ${new Date(r.ts).toISOString()} (${r.keys.length} entries)\n`)
      for (const k of r.keys) {
        process.stdout.write(`  ${safe(k.kid, 64).padEnd(44)} ${safe(k.role, 16).padEnd(14)} ${safe(k.label, 64)}${k.until !== undefined ? ` until ${new Date(k.until).toISOString()}` : ''}\n`)
      }
    })
}

export function simScrapCommand (): Command {
  const cmd = newCommand('scrap', 'decommission a car: revoke its certificate in the store (every broker ends its sessions) and wipe its key list (state dir)')
    .option('--cert <file>', 'PEM chain: the car\'s certificate + issuing CA, revoked (cessationOfOperation)')
    .option('--state-dir <dir>', 'the car\'s state dir (sim car --state-dir): its key list is wiped, the backend\'s entry included')
  addStoreOptions(cmd)
  cmd.action(async (flags: StoreFlags & { cert?: string; stateDir?: string }) => {
    requireFlags(flags, ['cert', 'stateDir'])
    if (!existsSync(flags.stateDir!)) throw fgError('FG_ERR_FILE_UNREADABLE', `--state-dir ${flags.stateDir!}: no such directory`)
    const targets = revokeTargets({ cert: flags.cert, reason: 'cessationOfOperation' })
    const opened = await openCliStores(flags, { revocations: REVOCATION_STORES })
    try {
      await opened.stores.revocations.revoke(targets.map((t) => t.target), { reason: 'cessationOfOperation', revokedAt: new Date().toISOString() })
    } finally {
      await opened.close()
    }
    for (const t of targets) process.stdout.write(`revoked ${t.what} in ${opened.where}\n`)
    const store = openKeyStore(flags.stateDir)
    await applyLocalStep(store, { step: 'wipe' }, Date.now())
    process.stdout.write(`wiped the key list in ${join(flags.stateDir!, KEYS_FILE)}\n`)
  })
  return cmd
}
