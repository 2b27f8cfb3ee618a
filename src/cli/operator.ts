// Who makes a change, for the operator log (README "Operator log"): --by <name>,
// else the OS user running the command. Never empty: a change nobody made is refused.
import { userInfo } from 'node:os'
import { fgError } from '../contract/errors.js'

export const BY_HELP = 'who makes the change, for the operator log (default: the OS user running the command)'

export function operatorName (by: string | undefined): string {
  if (by !== undefined) {
    const name = by.trim()
    if (name === '' || name.length > 200 || /[\r\n]/.test(name)) throw fgError('FG_ERR_CONFIG_INVALID', `--by ${JSON.stringify(by)}: expected a name (1-200 characters, one line)`)
    return name
  }
  let user: string
  try { user = userInfo().username } catch { user = process.env.USER ?? process.env.LOGNAME ?? '' }
  if (user.trim() === '') throw fgError('FG_ERR_CONFIG_MISSING', '--by <name> is required: the OS user running this command has no name')
  return user.trim()
}

/** a --note or a free-text --reason: one line, bounded */
export function freeText (flag: string, text: string | undefined): string {
  if (text === undefined) return ''
  if (text.length > 1000 || /[\r\n]/.test(text)) throw fgError('FG_ERR_CONFIG_INVALID', `${flag}: expected one line of at most 1000 characters`)
  return text
}
