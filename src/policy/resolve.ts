// Certificate + clientId -> one role and its grant (ARCHITECTURE.md step 4).
// First matching role in file order wins; a failure inside that role is a
// refusal, never a fall-through to a later, perhaps wider, role.
import type { Identity, NameAttributes } from '../identity/identity.js'
import { grantOf, type RoleRules, type Rule, type RuleLevel } from './grant.js'
import { isSafeIdentityValue } from '../identity/index.js'
import type { MatchSpec, RoleSpec } from './schema.js'
import { fill, type Part, type Placeholder } from './template.js'
import { startsWithDollar } from './topic.js'
import type { PolicyDecision } from './types.js'
import { isVin } from './vin.js'

/** own values only: an attribute named like "constructor" must not reach Object.prototype */
function values (names: NameAttributes, attr: string): readonly string[] {
  const v = Object.hasOwn(names, attr) ? names[attr] : undefined
  return Array.isArray(v) ? v : []
}

// Exactly one value, equal: a certificate with two OUs must not pick the role it likes.
function attrsHold (names: NameAttributes, wanted: MatchSpec['subject']): boolean {
  return wanted.every(([attr, value]) => {
    const have = values(names, attr)
    return have.length === 1 && have[0] === value
  })
}

function matches (m: MatchSpec, id: Identity): boolean {
  return attrsHold(id.subject, m.subject) &&
    attrsHold(id.issuer, m.issuer) &&
    (m.san.dns === undefined || id.san.dns.includes(m.san.dns)) &&
    (m.san.uri === undefined || id.san.uri.includes(m.san.uri)) &&
    (m.policy === undefined || id.policies.includes(m.policy)) &&
    (m.issuerKey === undefined || issuerKeyHolds(m.issuerKey, id))
}

// chain[0] is the CA whose signature on the leaf was verified; no chain, no match
function issuerKeyHolds (keys: readonly string[], id: Identity): boolean {
  const spki = id.chain[0]?.spki
  return spki !== undefined && keys.includes(spki)
}

function lookup (id: Identity, clientId: string): (p: Placeholder) => string | undefined {
  return p => {
    switch (p.kind) {
      case 'subject': return values(id.subject, p.attr)[0]
      case 'issuer': return values(id.issuer, p.attr)[0]
      case 'san': return id.san[p.field][0]
      case 'clientId': return clientId
    }
  }
}

/**
 * The role a quarantined certificate is judged under (README "Certificate states"):
 * never picked by its match alone; its match says which certificates it may hold.
 */
export const QUARANTINE_ROLE = 'quarantine'

/** `as`: judge under that role (its match must still hold), not the first match (quarantine) */
export function resolve (roles: readonly RoleSpec[], id: Identity, clientId: string, as?: string): PolicyDecision {
  const role = as !== undefined
    ? roles.find(r => r.name === as && matches(r.match, id))
    : roles.find(r => r.name !== QUARANTINE_ROLE && matches(r.match, id))
  if (role === undefined) return as !== undefined ? { ok: false, reason: 'no_role', detail: `no policy role "${as}" for this certificate` } : { ok: false, reason: 'no_role' }
  const refuse = (reason: 'client_id_mismatch' | 'bad_vin' | 'identity_injection', detail: string): PolicyDecision =>
    ({ ok: false, reason, role: role.name, detail })
  const value = lookup(id, clientId)
  const compiled = roleRules(role)

  // certificate values first: they must not reshape a topic (wildcard injection)
  for (const p of compiled.certificatePlaceholders) {
    const v = value(p)
    if (v !== undefined && !isSafeIdentityValue(v)) return refuse('identity_injection', `value of ${p.text} has a forbidden character`)
  }

  if (role.cnFormat === 'vin') {
    const cn = values(id.subject, 'CN')
    if (cn.length !== 1 || !isVin(cn[0] as string)) return refuse('bad_vin', 'CN is not a VIN')
  }

  // the clientId template pins who may take which session
  const want = fill(role.clientId.parts, value)
  if (want === undefined) return refuse('client_id_mismatch', `a value of clientId template "${role.clientId.text}" is missing`)
  // With a trailing `*` the suffix is empty or starts with '-': CN "WBA" must not take
  // the clientId "WBA3A5C51CF256985" (a VIN) or "svc" the session of "svc-a" by prefix alone.
  const ok = clientId !== '' && (clientId === want || (role.clientId.prefix && clientId.startsWith(want + '-')))
  if (!ok) return refuse('client_id_mismatch', role.clientId.prefix ? `clientId must be "${want}" or "${want}-<suffix>"` : `clientId must be "${want}"`)
  // the clientId is the client's own choice: it gets the certificate values' check when it fills a topic
  if (compiled.clientIdInTopics && !isSafeIdentityValue(clientId)) {
    return refuse('identity_injection', 'clientId has a forbidden character')
  }

  const slots = compiled.slots.map((parts) => fill(parts, value))
  // a value must not turn a usable rule into a `$` rule (e.g. CN "$SYS" in "${subject.CN}/#")
  for (const [kind, i] of compiled.leading) {
    const rule = compiled.rules[kind][i]!
    if (rule.every((l) => typeof l !== 'number' || slots[l] !== undefined) && startsWithDollar(slots[rule[0] as number] as string)) {
      return refuse('identity_injection', `a value in ${kind} rule "${role[kind][i]!.text}" starts with "$"`)
    }
  }
  return { ok: true, grant: grantOf(role.name, compiled.rules, slots) }
}

interface CompiledRole {
  /** placeholder levels, each filled once per connection */
  readonly slots: readonly (readonly Part[])[]
  readonly rules: RoleRules
  /** rules whose first level is a slot: [kind, index] */
  readonly leading: ReadonlyArray<readonly ['publish' | 'subscribe', number]>
  /** the certificate placeholders of the clientId template and the rules, checked at every connect */
  readonly certificatePlaceholders: readonly Placeholder[]
  /** does a rule use ${clientId} (then the client's choice must be a safe value too)? */
  readonly clientIdInTopics: boolean
}

const compiledRoles = new WeakMap<RoleSpec, CompiledRole>()

/** The role's rules as literal levels and slot indexes: once per role, not per connection. */
function roleRules (role: RoleSpec): CompiledRole {
  let c = compiledRoles.get(role)
  if (c) return c
  const slots: (readonly Part[])[] = []
  const slotOf = new Map<string, number>()
  const leading: Array<readonly ['publish' | 'subscribe', number]> = []
  const compile = (kind: 'publish' | 'subscribe' | 'retain'): Rule[] => role[kind].map((t, ti) => {
    const rule = t.levels.map((parts): RuleLevel => {
      if (parts.every((p) => typeof p === 'string')) return parts.join('')
      const key = JSON.stringify(parts)
      let i = slotOf.get(key)
      if (i === undefined) { i = slots.length; slots.push(parts); slotOf.set(key, i) }
      return i
    })
    if (t.leadingPlaceholder && kind !== 'retain') leading.push([kind, ti])
    return Object.freeze(rule)
  })
  const topics = [...role.publish, ...role.subscribe, ...role.retain]
  c = {
    slots, rules: Object.freeze({ publish: Object.freeze(compile('publish')), subscribe: Object.freeze(compile('subscribe')), retain: Object.freeze(compile('retain')) }), leading,
    certificatePlaceholders: [...role.clientId.placeholders, ...topics.flatMap((t) => t.placeholders)].filter((p) => p.kind !== 'clientId'),
    clientIdInTopics: topics.some((t) => t.placeholders.some((p) => p.kind === 'clientId')),
  }
  compiledRoles.set(role, c)
  return c
}

