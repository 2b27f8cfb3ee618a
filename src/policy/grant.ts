// A connection's compiled rules. The rule shapes are compiled once per role
// (RoleRules): each level is a literal (including `+` and `#`) or the index of
// a slot, a placeholder level filled once per connection. A connection keeps
// only its slot values, not a copy of every rule (memory per idle connection),
// and no check splits a rule or builds a RegExp per message.
import type { Grant } from './types.js'
import { covers, isValidFilter, isValidTopicName, matchTopic, startsWithDollar, type Rule } from './topic.js'

export type { Rule, RuleLevel } from './topic.js'

export interface RoleRules {
  readonly publish: readonly Rule[]
  readonly subscribe: readonly Rule[]
  /** exact topics (slots, no wildcard) that may be published with retain */
  readonly retain: readonly Rule[]
}

/** A slot with no value (a missing placeholder value) makes its rule unusable: deny, never a wildcard. */
function usable (rule: Rule, slots: readonly (string | undefined)[]): boolean {
  for (const l of rule) if (typeof l === 'number' && slots[l] === undefined) return false
  return true
}

function anyMatch (rules: readonly Rule[], slots: readonly (string | undefined)[], topic: string): boolean {
  for (const rule of rules) if (matchTopic(rule, topic, slots)) return true
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
    for (const rule of this.#rules.subscribe) if (covers(rule, levels, this.#slots)) return true
    return false
  }

  canRetain (topic: string): boolean {
    return anyMatch(this.#rules.retain, this.#slots, topic)
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
export function makeGrant (role: string, publish: readonly (readonly string[])[], subscribe: readonly (readonly string[])[], retain: readonly (readonly string[])[] = []): Grant {
  return new CompiledGrant(role, { publish, subscribe, retain }, [])
}
