// Shared CLI plumbing: one-line errors, exit codes, the serve option table as
// flags, and the flag checks of more than one command.
import { Command, CommanderError, Option } from 'commander'
import { exitCodeOf, fgError, isFleetgateError } from '../contract/errors.js'
import { SERVE_OPTIONS, flagOf, envOf, defaultText, parseDuration, type ServeOptionName, type OptionSpec } from '../config/index.js'

/** Thrown by a command to end with this exit code after it printed what it had to. */
export class ExitCode extends Error { constructor (readonly code: number) { super(`exit ${code}`) } }

export function newCommand (name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ outputError: () => {} })
    .configureHelp({ helpWidth: 200 })
}

/** Add serve-style options (flag + env + default in the help text) from the option table. */
export function addOptions (cmd: Command, names: readonly ServeOptionName[]): Command {
  for (const name of names) {
    const spec: OptionSpec = SERVE_OPTIONS[name]
    const flag = flagOf(name)
    const def = defaultText(spec)
    const help = `${spec.help} [env ${envOf(name)}${def !== undefined ? `, default ${def}` : ''}]`
    const opt = spec.kind === 'bool' ? new Option(flag, help) : new Option(`${flag} <value>`, help)
    // a list flag may be repeated: its values are joined as the environment variable spells them
    if (spec.kind === 'urls') opt.argParser((value: string, before: string | undefined) => before === undefined ? value : `${before},${value}`)
    cmd.addOption(opt)
    // a switch that is on by default can be turned off: --no-<flag> (commander leaves the value unset otherwise)
    if (spec.kind === 'bool' && spec.default === true) cmd.addOption(new Option(`--no-${flag.slice(2)}`, `turn ${flag} off`))
  }
  return cmd
}

/** Map an error to (line on stderr, exit code). User mistakes never print a stack. */
export function reportError (err: unknown): number {
  if (err instanceof ExitCode) return err.code
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0
    process.stderr.write(`FG_ERR_USAGE: ${err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')} (see --help)\n`)
    return 2
  }
  if (isFleetgateError(err)) {
    process.stderr.write(err.toLine() + '\n')
    return exitCodeOf(err.code)
  }
  process.stderr.write(`internal error: ${(err as Error)?.stack ?? String(err)}\n`)
  return 1
}

/** resolve with the signal's name on SIGINT/SIGTERM, or 'duration' after ms (if given); the listeners are removed afterwards */
export function untilStopped (ms: number | undefined): Promise<string> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined
    const done = (why: string) => { clearTimeout(timer); process.off('SIGINT', onInt); process.off('SIGTERM', onTerm); resolve(why) }
    const onInt = () => done('SIGINT')
    const onTerm = () => done('SIGTERM')
    process.once('SIGINT', onInt)
    process.once('SIGTERM', onTerm)
    if (ms !== undefined) timer = setTimeout(() => done('duration'), ms)
  })
}

/**
 * FG_ERR_CONFIG_MISSING `--<flag> is required` for the first of `names` (the
 * option keys, as commander names them: stateDir) that is absent or empty,
 * named as the user types it (--state-dir).
 */
export function requireFlags (flags: object, names: readonly string[]): void {
  for (const n of names) {
    const value = (flags as Record<string, unknown>)[n]
    if (typeof value !== 'string' || value === '') throw fgError('FG_ERR_CONFIG_MISSING', `--${n.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`)
  }
}

/**
 * A duration flag in ms; FG_ERR_CONFIG_INVALID `<flag> <text>: <expected>`
 * when the text is not a duration or `accept` refuses it.
 */
export function durationFlag (flag: string, text: string, expected: string, accept: (ms: number) => boolean = () => true): number {
  const ms = parseDuration(text)
  if (ms === null || !accept(ms)) throw fgError('FG_ERR_CONFIG_INVALID', `${flag} ${text}: ${expected}`)
  return ms
}

/**
 * A count flag from 1 to max; FG_ERR_CONFIG_INVALID `<flag> <text>: <expected>`
 * otherwise. The text is read as Number() reads it (`1e3` and `0x10` pass),
 * or with `digitsOnly` as plain digits (what pki's flags have always taken).
 */
export function countFlag (flag: string, text: string, max: number, expected: string, digitsOnly = false): number {
  const n = Number(text)
  if ((digitsOnly && !/^\d+$/.test(text)) || !Number.isInteger(n) || n < 1 || n > max) throw fgError('FG_ERR_CONFIG_INVALID', `${flag} ${text}: ${expected}`)
  return n
}
