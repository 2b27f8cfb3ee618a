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

/**
 * MQTT matching of a (valid) topic name by a filter given as levels:
 * `+` one level, `#` any rest including none (`a/#` matches `a`), and a
 * filter starting with a wildcard never matches a `$` topic.
 */
export function matchTopic (filter: readonly string[], topic: string): boolean {
  const first = filter[0]
  if (startsWithDollar(topic) && (first === '+' || first === '#')) return false
  let start = 0 // start of the current topic level; > topic.length once every level is used
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i] as string
    if (level === '#') return true
    if (start > topic.length) return false
    let end = topic.indexOf('/', start)
    if (end === -1) end = topic.length
    if (level !== '+' && (end - start !== level.length || !topic.startsWith(level, start))) return false
    start = end + 1
  }
  return start > topic.length
}

/**
 * Does `rule` cover `filter` (both valid, as levels): is every topic the
 * filter can match also matched by the rule? A `$` filter is covered only by
 * a rule with the very same literal first level.
 */
export function covers (rule: readonly string[], filter: readonly string[]): boolean {
  const first = filter[0] as string
  if (startsWithDollar(first) && rule[0] !== first) return false
  for (let i = 0; ; i++) {
    const r = rule[i]
    if (r === '#') return true
    const f = filter[i]
    if (f === undefined || r === undefined) return f === undefined && r === undefined
    // a `#` in the filter reaches topics of any depth; only a rule `#` does too
    if (f === '#') return false
    // a `+` in the filter reaches every value of the level; only a rule `+` does too
    if (f === '+') { if (r !== '+') return false; continue }
    if (r !== '+' && r !== f) return false
  }
}
