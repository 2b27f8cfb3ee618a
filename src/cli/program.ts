// Shared CLI plumbing: one-line errors, exit codes, the serve option table as flags.
import { Command, CommanderError, Option } from 'commander'
import { isFleetgateError } from '../errors.js'
import { SERVE_OPTIONS, flagOf, envOf, defaultText, type ServeOptionName, type OptionSpec } from '../config/index.js'

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
    cmd.addOption(opt)
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
    return 2
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
