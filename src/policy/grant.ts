// A connection's compiled rules. Built once at CONNECT from filled, pre-split
// filters; each check splits nothing per message (canSubscribe splits the
// requested filter once, SUBSCRIBE being rare).
import type { Grant } from './types.js'
import { covers, isValidFilter, isValidTopicName, matchTopic, startsWithDollar } from './topic.js'

export function makeGrant (role: string, publish: readonly (readonly string[])[], subscribe: readonly (readonly string[])[]): Grant {
  const publishRules = Object.freeze(publish.map(levels => levels.join('/')))
  const subscribeRules = Object.freeze(subscribe.map(levels => levels.join('/')))
  const matchesAny = (rules: readonly (readonly string[])[], topic: string): boolean => {
    for (const rule of rules) if (matchTopic(rule, topic)) return true
    return false
  }
  return Object.freeze({
    role,
    publishRules,
    subscribeRules,
    canPublish (topic: string): boolean {
      // `$` topics belong to the broker ($SYS): never a client's
      if (!isValidTopicName(topic) || startsWithDollar(topic)) return false
      return matchesAny(publish, topic)
    },
    canSubscribe (filter: string): boolean {
      if (!isValidFilter(filter)) return false
      const levels = filter.split('/')
      if (levels[0] === '$share') return false
      for (const rule of subscribe) if (covers(rule, levels)) return true
      return false
    },
    canReceive (topic: string): boolean {
      return isValidTopicName(topic) && matchesAny(subscribe, topic)
    },
  })
}
