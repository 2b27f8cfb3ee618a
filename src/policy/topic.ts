// MQTT 3.1.1 topic names and filters (section 4.7). Rules are pre-split into
// level arrays once per connection; a message is compared level by level
// against the topic string, with no RegExp and no per-message allocation.

const NUL = 0
const HASH = 35
const DOLLAR = 36
const PLUS = 43
const SLASH = 47

/** A topic a client may publish to: non-empty, no wildcard, no NUL. */
export function isValidTopicName (topic: string): boolean {
  // indexOf is native: cheaper than a JS loop on the per-message path
  return topic.length > 0 && topic.indexOf('+') === -1 && topic.indexOf('#') === -1 && topic.indexOf('\u0000') === -1
}

/** A filter: non-empty, no NUL, `+` and `#` only as whole levels, `#` only as the last level. */
export function isValidFilter (filter: string): boolean {
  if (filter.length === 0) return false
  let levelStart = 0
  for (let i = 0; i < filter.length; i++) {
    const c = filter.charCodeAt(i)
    if (c === NUL) return false
    if (c === SLASH) { levelStart = i + 1; continue }
    if (c === PLUS || c === HASH) {
      const levelEnd = i + 1 === filter.length || filter.charCodeAt(i + 1) === SLASH
      if (i !== levelStart || !levelEnd) return false
      if (c === HASH && i + 1 !== filter.length) return false
    }
  }
  return true
}

export function startsWithDollar (s: string): boolean {
  return s.charCodeAt(0) === DOLLAR
}

/** a rule level: a literal (including `+` and `#`), or the index of a per-connection slot value */
export type RuleLevel = string | number
export type Rule = readonly RuleLevel[]
const NO_SLOTS: readonly (string | undefined)[] = []

/**
 * MQTT matching of a topic name by a rule [MQTT-4.7]. `+` and `#` come only
 * from the rule's literals, never from a slot value; a slot with no value
 * matches nothing (a missing placeholder value denies, never widens).
 * No allocation: this runs for every PUBLISH and every delivery.
 */
export function matchTopic (rule: Rule, topic: string, slots: readonly (string | undefined)[] = NO_SLOTS): boolean {
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

/**
 * Does `rule` cover the (valid, split) `filter`: is every topic the filter can
 * match also matched by the rule? A `$` filter is covered only by a rule with
 * the very same literal first level.
 */
export function covers (rule: Rule, filter: readonly string[], slots: readonly (string | undefined)[] = NO_SLOTS): boolean {
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
