// The command allowlist with argument schemas (README "Signed commands"):
// never a generic "execute". The key commands (add_key, remove_key, transfer)
// change the car's key list (keys.ts). Pure.
import { addKeyArgsProblem, removeKeyArgsProblem, transferArgsProblem, KEY_COMMANDS, type KeyCommandName } from './keys.js'

export const COMMAND_NAMES = [
  'lock', 'unlock', 'honk', 'flash_lights', 'climate_on', 'climate_off', 'remote_start', 'set_charge_limit',
  'diagnostics', 'add_key', 'remove_key', 'transfer',
] as const
export type CommandName = typeof COMMAND_NAMES[number]

const NAMES: ReadonlySet<string> = new Set(COMMAND_NAMES)

export function isCommandName (cmd: string): cmd is CommandName {
  return NAMES.has(cmd)
}

export const CHARGE_LIMIT_MIN = 50
export const CHARGE_LIMIT_MAX = 100

/** Argument schema of each command: true when `args` has exactly the allowed shape. */
const ARG_SCHEMAS: Readonly<Record<CommandName, (args: Readonly<Record<string, unknown>>) => boolean>> = {
  lock: noArgs,
  unlock: noArgs,
  honk: noArgs,
  flash_lights: noArgs,
  climate_on: noArgs,
  climate_off: noArgs,
  remote_start: noArgs,
  diagnostics: noArgs,
  add_key: (args) => addKeyArgsProblem(args) === null,
  remove_key: (args) => removeKeyArgsProblem(args) === null,
  transfer: (args) => transferArgsProblem(args) === null,
  set_charge_limit: (args) => {
    const keys = Object.keys(args)
    const p = args.percent
    return keys.length === 1 && keys[0] === 'percent' && Number.isInteger(p) &&
      (p as number) >= CHARGE_LIMIT_MIN && (p as number) <= CHARGE_LIMIT_MAX
  },
}

function noArgs (args: Readonly<Record<string, unknown>>): boolean {
  return Object.keys(args).length === 0
}

export function argsValid (cmd: CommandName, args: Readonly<Record<string, unknown>>): boolean {
  return ARG_SCHEMAS[cmd](args)
}

/** Why `args` do not fit `cmd` (for the car's log), or null. */
export function argsProblem (cmd: CommandName, args: Readonly<Record<string, unknown>>): string | null {
  if (cmd === 'add_key') return addKeyArgsProblem(args)
  if (cmd === 'remove_key') return removeKeyArgsProblem(args)
  if (cmd === 'transfer') return transferArgsProblem(args)
  return ARG_SCHEMAS[cmd](args) ? null : `args do not fit ${cmd}`
}

/**
 * Which signer roles (the signer leaf's OU) may send which commands: the car's
 * own table. '*' = every operation of the car (VEHICLE_COMMANDS), never the key
 * commands: those need an owner key of the car's list. A role absent from the
 * table may send none (insufficient_privileges).
 */
export type CommandRoles = Readonly<Record<string, '*' | readonly CommandName[]>>

export const DEFAULT_COMMAND_ROLES: CommandRoles = Object.freeze({ 'fleet-backend': '*' })

/** true when the certificate role may command cars at all (step insufficient_privileges). */
export function roleMayCommand (roles: CommandRoles, role: string | undefined): boolean {
  return role !== undefined && Object.hasOwn(roles, role)
}

export function isKeyCommand (cmd: string): cmd is KeyCommandName {
  return (KEY_COMMANDS as readonly string[]).includes(cmd)
}

export function roleMaySend (roles: CommandRoles, role: string | undefined, cmd: string): boolean {
  if (role === undefined || !Object.hasOwn(roles, role)) return false
  const allowed = roles[role]!
  return allowed === '*' ? !isKeyCommand(cmd) : (allowed as readonly string[]).includes(cmd)
}
