// A certificate value (or a client-chosen clientId) that goes into a topic
// template must not change the topic's shape: no level separator, no
// wildcard, no NUL, no control character (also keeps audit lines one line).

export function isSafeIdentityValue (s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // C0 controls incl. NUL, DEL, C1 controls; '#' 35, '+' 43, '/' 47
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || c === 35 || c === 43 || c === 47) return false
  }
  return true
}
