// A connection's compiled rules. The rule shapes are compiled once per role
// (RoleRules): each level is a literal (including `+` and `#`) or the index of
// a slot, a placeholder level filled once per connection. A connection keeps
// only its slot values, not a copy of every rule (memory per idle connection),
// and no check splits a rule or builds a RegExp per message.
import type { Grant } from './types.js'
import { isValidFilter, isValidTopicName, startsWithDollar } from './topic.js'

/** a rule level: a literal, or the index of a per-connection slot */
export type RuleLevel = string | number
export type Rule = readonly RuleLevel[]

export interface RoleRules {
  readonly publish: readonly Rule[]
  readonly subscribe: readonly Rule[]
}

/** A slot with no value (a missing placeholder value) makes its rule unusable: deny, never a wildcard. */
function usable (rule: Rule, slots: readonly (string | undefined)[]): boolean {
  for (const l of rule) if (typeof l === 'number' && slots[l] === undefined) return false
  return true
}

/** MQTT matching of a topic name by one rule [MQTT-4.7]; `+`/`#` only from the rule's literals. */
function matchRule (rule: Rule, slots: readonly (string | undefined)[], topic: string): boolean {
  const first = rule[0]
  if (startsWithDollar(topic) && (first === '+' || first === '#')) return false
  let start = 0 // start of the current topic level; > topic.length once every level is used
  for (let i = 0; i < rule.length; i++) {
    const r = rule[i]!
    if (r === '#') return true
    if (start > topic.length) return false
    let end = topic.indexOf('/', start)
    if (end === -1) end = topic.length
    if (r !== '+') {
      const level = typeof r === 'number' ? slots[r] : r
      if (level === undefined || end - start !== level.length || !topic.startsWith(level, start)) return false
    }
    start = end + 1
  }
  return start > topic.length
}

/** Does the rule cover every topic the (valid, split) filter can match? A `$` filter only by the same literal first level. */
function coversFilter (rule: Rule, slots: readonly (string | undefined)[], filter: readonly string[]): boolean {
  const level = (i: number): string | undefined => { const r = rule[i]; return typeof r === 'number' ? slots[r] : r }
  if (startsWithDollar(filter[0]!) && level(0) !== filter[0]) return false
  for (let i = 0; ; i++) {
    const raw = rule[i]
    if (raw === '#') return true
    const f = filter[i]
    if (f === undefined || raw === undefined) return f === undefined && raw === undefined
    // a `#` in the filter reaches topics of any depth; only a rule `#` does too
    if (f === '#') return false
    // a `+` in the filter reaches every value of the level; only a rule `+` does too
    if (f === '+') { if (raw !== '+') return false; continue }
    if (raw !== '+' && level(i) !== f) return false
  }
}

function anyMatch (rules: readonly Rule[], slots: readonly (string | undefined)[], topic: string): boolean {
  for (const rule of rules) if (matchRule(rule, slots, topic)) return true
  return false
}

/** Methods live on the prototype: a Grant costs its slot values, not closures or rule copies. */
class CompiledGrant implements Grant {
  readonly #rules: RoleRules
  readonly #slots: readonly (string | undefined)[]
  // One-entry memos: a car publishes to the same few topics, and a stream of
  // deliveries repeats its topic, so most checks are one string compare. The
  // answer for a topic never changes for this grant (a reload makes a new one).
  #lastPublish = ''
  #lastPublishOk = false
  #lastReceive = ''
  #lastReceiveOk = false
  declare readonly role: string
  constructor (role: string, rules: RoleRules, slots: readonly (string | undefined)[]) {
    Object.defineProperty(this, 'role', { value: role, enumerable: true, writable: false, configurable: false })
    this.#rules = rules
    this.#slots = slots
    Object.seal(this) // the memos are private fields: the holder can change nothing
  }

  #text (rules: readonly Rule[]): readonly string[] {
    return Object.freeze(rules.filter((r) => usable(r, this.#slots)).map((r) => r.map((l) => (typeof l === 'number' ? this.#slots[l] : l)).join('/')))
  }

  /** the rules with their values filled (rules with a missing value left out) */
  get publishRules (): readonly string[] { return this.#text(this.#rules.publish) }
  get subscribeRules (): readonly string[] { return this.#text(this.#rules.subscribe) }

  canPublish (topic: string): boolean {
    if (topic === this.#lastPublish) return this.#lastPublishOk
    // `$` topics belong to the broker ($SYS): never a client's
    const ok = isValidTopicName(topic) && !startsWithDollar(topic) && anyMatch(this.#rules.publish, this.#slots, topic)
    this.#lastPublish = topic
    this.#lastPublishOk = ok
    return ok
  }

  canSubscribe (filter: string): boolean {
    if (!isValidFilter(filter)) return false
    const levels = filter.split('/')
    if (levels[0] === '$share') return false
    for (const rule of this.#rules.subscribe) if (coversFilter(rule, this.#slots, levels)) return true
    return false
  }

  canReceive (topic: string): boolean {
    if (topic === this.#lastReceive) return this.#lastReceiveOk
    const ok = isValidTopicName(topic) && anyMatch(this.#rules.subscribe, this.#slots, topic)
    this.#lastReceive = topic
    this.#lastReceiveOk = ok
    return ok
  }
}

export function grantOf (role: string, rules: RoleRules, slots: readonly (string | undefined)[]): Grant {
  return new CompiledGrant(role, rules, slots)
}

/** A grant from literal, pre-split rules (no slots): for tests and tools. */
export function makeGrant (role: string, publish: readonly (readonly string[])[], subscribe: readonly (readonly string[])[]): Grant {
  return new CompiledGrant(role, { publish, subscribe }, [])
}
