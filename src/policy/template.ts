// Placeholders in topic rules and clientId templates: parsed once at load,
// filled once per connection. Only a closed set is known, so a typo is a
// load-time error and never a rule that silently matches nothing (or all).
import { isValidFilter, startsWithDollar } from './topic.js'

export type Placeholder =
  | { readonly kind: 'subject' | 'issuer'; readonly attr: string; readonly text: string }
  | { readonly kind: 'san'; readonly field: 'dns' | 'uri'; readonly text: string }
  | { readonly kind: 'clientId'; readonly text: string }

/** a literal piece (never empty) or a placeholder */
export type Part = string | Placeholder

export interface TopicTemplate {
  readonly text: string
  /** one entry per topic level, each a sequence of parts */
  readonly levels: readonly (readonly Part[])[]
  readonly placeholders: readonly Placeholder[]
  /** the first level begins with a placeholder: its value must not make the rule a `$` rule */
  readonly leadingPlaceholder: boolean
}

export interface ClientIdTemplate {
  readonly text: string
  readonly parts: readonly Part[]
  /** trailing `*`: the clientId must start with the filled parts, any rest */
  readonly prefix: boolean
  readonly placeholders: readonly Placeholder[]
}

/** A template is wrong; the caller adds file, line and key. */
export class TemplateProblem extends Error {}

const EXPECTED = 'expected ${subject.<ATTR>}, ${issuer.<ATTR>}, ${san.dns}, ${san.uri} or ${clientId}'
const NAME = /^(?:(subject|issuer)\.([A-Za-z][A-Za-z0-9]*)|san\.(dns|uri)|(clientId))$/

function placeholder (name: string): Placeholder {
  const m = NAME.exec(name)
  const text = '${' + name + '}'
  if (m === null) throw new TemplateProblem(`unknown placeholder "${text}" (${EXPECTED})`)
  if (m[1] !== undefined) return { kind: m[1] as 'subject' | 'issuer', attr: m[2] as string, text }
  if (m[3] !== undefined) return { kind: 'san', field: m[3] as 'dns' | 'uri', text }
  return { kind: 'clientId', text }
}

function parseParts (text: string): Part[] {
  const parts: Part[] = []
  let literal = ''
  let i = 0
  while (i < text.length) {
    if (text.startsWith('${', i)) {
      const end = text.indexOf('}', i + 2)
      if (end === -1) throw new TemplateProblem(`unclosed placeholder "${text.slice(i)}"`)
      if (literal !== '') { parts.push(literal); literal = '' }
      parts.push(placeholder(text.slice(i + 2, end)))
      i = end + 1
    } else {
      literal += text[i]
      i++
    }
  }
  if (literal !== '') parts.push(literal)
  return parts
}

function placeholdersOf (parts: readonly Part[]): Placeholder[] {
  return parts.filter((p): p is Placeholder => typeof p !== 'string')
}

/** Fill parts; undefined when a placeholder has no (or an empty) value. */
export function fill (parts: readonly Part[], value: (p: Placeholder) => string | undefined): string | undefined {
  let out = ''
  for (const p of parts) {
    if (typeof p === 'string') { out += p; continue }
    const v = value(p)
    // an empty value would collapse a level (or a clientId prefix): treat as missing
    if (v === undefined || v === '') return undefined
    out += v
  }
  return out
}

// Any safe value (no '/', '+', '#', NUL) stands for all: filling with it shows the rule's shape.
const SAMPLE = (): string => 'x'

export function parseTopicTemplate (text: string, what: 'publish' | 'subscribe'): TopicTemplate {
  if (text.length === 0) throw new TemplateProblem('empty topic rule')
  const parts = parseParts(text)
  if (!isValidFilter(fill(parts, SAMPLE) as string)) {
    throw new TemplateProblem(`"${text}" is not a valid MQTT filter ("+" and "#" only as whole levels, "#" only last, no NUL)`)
  }
  // topic levels: split the literal parts on '/'
  const levels: Part[][] = [[]]
  for (const p of parts) {
    if (typeof p !== 'string') { (levels[levels.length - 1] as Part[]).push(p); continue }
    const pieces = p.split('/')
    pieces.forEach((piece, k) => {
      if (k > 0) levels.push([])
      if (piece !== '') (levels[levels.length - 1] as Part[]).push(piece)
    })
  }
  const first = levels[0] as Part[]
  const head = first[0]
  if (typeof head === 'string' && startsWithDollar(head)) {
    if (what === 'publish') throw new TemplateProblem(`"${text}": publishing to a "$" topic is always refused`)
    if (first.length === 1 && head === '$share') throw new TemplateProblem(`"${text}": shared subscriptions are not supported`)
  }
  return {
    text,
    levels,
    placeholders: placeholdersOf(parts),
    leadingPlaceholder: head !== undefined && typeof head !== 'string',
  }
}

export function parseClientIdTemplate (text: string): ClientIdTemplate {
  const prefix = text.endsWith('*')
  const body = prefix ? text.slice(0, -1) : text
  if (body.includes('*')) throw new TemplateProblem(`"${text}": "*" is allowed only once, at the end`)
  // "*" alone would let this role take any clientId, a vehicle's included, and kick its session
  if (body === '') throw new TemplateProblem(`"${text}" would accept any clientId`)
  const parts = parseParts(body)
  const placeholders = placeholdersOf(parts)
  if (placeholders.some(p => p.kind === 'clientId')) throw new TemplateProblem(`"${text}": \${clientId} cannot be used in the clientId template`)
  return { text, parts, prefix, placeholders }
}
