// The command allowlist with argument schemas (README "Signed commands"):
// never a generic "execute". Pure.

export const COMMAND_NAMES = [
  'lock', 'unlock', 'honk', 'flash_lights', 'climate_on', 'climate_off', 'remote_start', 'set_charge_limit',
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

/**
 * Which signer roles (the signer leaf's OU) may send which commands: the car's
 * own table. '*' = every command of the allowlist. A role absent from the table
 * may send none (insufficient_privileges).
 */
export type CommandRoles = Readonly<Record<string, '*' | readonly CommandName[]>>

export const DEFAULT_COMMAND_ROLES: CommandRoles = Object.freeze({ 'fleet-backend': '*' })

export function roleMaySend (roles: CommandRoles, role: string | undefined, cmd: string): boolean {
  if (role === undefined || !Object.hasOwn(roles, role)) return false
  const allowed = roles[role]!
  return allowed === '*' || (allowed as readonly string[]).includes(cmd)
}
