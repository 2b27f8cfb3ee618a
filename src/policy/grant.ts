// A connection's compiled rules. Built once at CONNECT from filled, pre-split
// filters; each check splits nothing per message (canSubscribe splits the
// requested filter once, SUBSCRIBE being rare).
import type { Grant } from './types.js'
import { covers, isValidFilter, isValidTopicName, matchTopic, startsWithDollar } from './topic.js'

/** Methods live on the prototype: one Grant per connection costs its rule arrays, not five closures. */
class CompiledGrant implements Grant {
  readonly #publish: readonly (readonly string[])[]
  readonly #subscribe: readonly (readonly string[])[]
  constructor (readonly role: string, publish: readonly (readonly string[])[], subscribe: readonly (readonly string[])[]) {
    this.#publish = publish
    this.#subscribe = subscribe
    Object.freeze(this)
  }

  get publishRules (): readonly string[] { return Object.freeze(this.#publish.map(levels => levels.join('/'))) }
  get subscribeRules (): readonly string[] { return Object.freeze(this.#subscribe.map(levels => levels.join('/'))) }

  canPublish (topic: string): boolean {
    // `$` topics belong to the broker ($SYS): never a client's
    if (!isValidTopicName(topic) || startsWithDollar(topic)) return false
    return matchesAny(this.#publish, topic)
  }

  canSubscribe (filter: string): boolean {
    if (!isValidFilter(filter)) return false
    const levels = filter.split('/')
    if (levels[0] === '$share') return false
    for (const rule of this.#subscribe) if (covers(rule, levels)) return true
    return false
  }

  canReceive (topic: string): boolean {
    return isValidTopicName(topic) && matchesAny(this.#subscribe, topic)
  }
}

function matchesAny (rules: readonly (readonly string[])[], topic: string): boolean {
  for (const rule of rules) if (matchTopic(rule, topic)) return true
  return false
}

export function makeGrant (role: string, publish: readonly (readonly string[])[], subscribe: readonly (readonly string[])[]): Grant {
  return new CompiledGrant(role, publish, subscribe)
}
