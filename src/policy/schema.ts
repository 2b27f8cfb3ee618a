// Policy text -> validated role specs. Every problem is one FleetgateError
// line naming file, line and key, so an operator can fix it without guessing.
// Keys are checked against closed lists: a typo ("publsh") must not silently
// drop rules or, worse, widen a match.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml'
import { fgError, type FleetgateErrorCode } from '../contract/errors.js'
import { parseClientIdTemplate, parseTopicTemplate, TemplateProblem, type ClientIdTemplate, type TopicTemplate } from './template.js'

export interface MatchSpec {
  readonly subject: readonly (readonly [attr: string, value: string])[]
  readonly issuer: readonly (readonly [attr: string, value: string])[]
  readonly san: { readonly dns?: string; readonly uri?: string }
  readonly policy?: string
  /**
   * SHA-256 (lowercase hex) of the SubjectPublicKeyInfo of the CA that issued
   * the leaf (its signature verified): pins the role to that CA's key, which a
   * second CA with the same name does not have. Several: any of them (rollover).
   */
  readonly issuerKey?: readonly string[]
}

export interface RoleSpec {
  readonly name: string
  readonly match: MatchSpec
  readonly cnFormat?: 'vin'
  readonly clientId: ClientIdTemplate
  readonly publish: readonly TopicTemplate[]
  readonly subscribe: readonly TopicTemplate[]
  /** exact topics (no wildcard) this role may publish with retain: a bounded number per identity */
  readonly retain: readonly TopicTemplate[]
}

const ROLE_KEYS = ['match', 'cnFormat', 'clientId', 'publish', 'subscribe', 'retain']
const MATCH_KEYS = ['subject', 'issuer', 'issuerKey', 'san', 'policy']
const SAN_KEYS = ['dns', 'uri']
const ATTR = /^[A-Za-z][A-Za-z0-9]*$/
const OID = /^[0-2](?:\.(?:0|[1-9][0-9]*))+$/
const SHA256_HEX = /^[0-9a-f]{64}$/
// role names go into audit lines and metrics labels: keep them plain
const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

type AnyNode = Node | null | undefined

class Reader {
  constructor (readonly source: string, private readonly doc: Document, private readonly lines: LineCounter) {}

  line (node: AnyNode, fallback?: AnyNode): number {
    const at = node?.range?.[0] ?? fallback?.range?.[0] ?? 0
    return this.lines.linePos(at).line
  }

  fail (code: FleetgateErrorCode, node: AnyNode, message: string, fallback?: AnyNode): never {
    throw fgError(code, `${this.source}:${this.line(node, fallback)}: ${message}`)
  }

  invalid (node: AnyNode, message: string, fallback?: AnyNode): never {
    return this.fail('FG_ERR_POLICY_INVALID', node, message, fallback)
  }

  deref (node: AnyNode): AnyNode {
    return isAlias(node) ? (node.resolve(this.doc) as AnyNode) : node
  }

  /** map entries with string keys, duplicates refused; `where` names the map in messages */
  entries (node: AnyNode, where: string, fallback?: AnyNode): { key: string; keyNode: Node; value: AnyNode }[] {
    const map = this.deref(node)
    if (!isMap(map)) return this.invalid(map, `${where} must be a map`, fallback)
    const seen = new Set<string>()
    return (map as YAMLMap).items.map((pair: Pair) => {
      const keyNode = pair.key as Node
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') return this.invalid(keyNode, `${where}: keys must be strings`, map)
      const key = keyNode.value
      if (seen.has(key)) this.invalid(keyNode, `duplicate key "${key}" in ${where}`)
      seen.add(key)
      return { key, keyNode, value: this.deref(pair.value as AnyNode) }
    })
  }

  unknownKey (keyNode: Node, key: string, where: string, expected: readonly string[]): never {
    const list = expected.length === 1 ? expected[0] : `one of ${expected.join(', ')}`
    return this.fail('FG_ERR_POLICY_UNKNOWN_KEY', keyNode, `unknown key "${key}" ${where} (expected ${list})`)
  }

  string (node: AnyNode, what: string, fallback: Node): string {
    if (!isScalar(node) || typeof node.value !== 'string') {
      return this.invalid(node, `${what} must be a string (quote values YAML would read as numbers, booleans or null)`, fallback)
    }
    return node.value
  }

  strings (node: AnyNode, what: string, fallback: Node): { text: string; node: Node }[] {
    if (!isSeq(node)) return this.invalid(node, `${what} must be a list of strings`, fallback)
    return node.items.map((item, k) => {
      const n = this.deref(item as AnyNode) as Node
      return { text: this.string(n, `${what}[${k}]`, node), node: n }
    })
  }
}

export function readPolicy (text: string, source: string): RoleSpec[] {
  const lines = new LineCounter()
  // duplicate keys are found in the walk below, which can name them
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false })
  const r = new Reader(source, doc, lines)
  const syntax = doc.errors[0]
  if (syntax !== undefined) {
    const kind = /\.json$/i.test(source) ? 'JSON' : 'YAML'
    const first = syntax.message.split('\n')[0] as string
    throw fgError('FG_ERR_POLICY_SYNTAX', `${source}:${lines.linePos(syntax.pos[0]).line}: not valid ${kind}: ${first}`)
  }
  const top = r.deref(doc.contents as AnyNode)
  if (top === null || top === undefined || (isScalar(top) && top.value === null)) r.invalid(top, 'the policy is empty (expected a "roles" map)')
  let rolesNode: AnyNode
  let rolesKey: Node | undefined
  for (const { key, keyNode, value } of r.entries(top, 'the top level')) {
    if (key !== 'roles') r.unknownKey(keyNode, key, 'at the top level', ['roles'])
    rolesNode = value
    rolesKey = keyNode
  }
  if (rolesKey === undefined) return r.invalid(top, 'missing required key "roles"')
  const roles = r.entries(rolesNode, '"roles"', rolesKey)
  if (roles.length === 0) r.invalid(rolesNode, '"roles" must name at least one role', rolesKey)
  return roles.map(({ key, keyNode, value }) => {
    if (!ROLE_NAME.test(key)) r.invalid(keyNode, `role name "${key}" must be letters, digits, ".", "_" or "-"`)
    return readRole(r, key, keyNode, value)
  })
}

function readRole (r: Reader, name: string, nameNode: Node, node: AnyNode): RoleSpec {
  const where = `role "${name}"`
  let match: MatchSpec | undefined
  let cnFormat: 'vin' | undefined
  let clientId: ClientIdTemplate | undefined
  let publish: TopicTemplate[] = []
  let subscribe: TopicTemplate[] = []
  let retain: TopicTemplate[] = []
  for (const { key, keyNode, value } of r.entries(node, where, nameNode)) {
    switch (key) {
      case 'match': match = readMatch(r, where, keyNode, value); break
      case 'cnFormat':
        if (r.string(value, `${where}: cnFormat`, keyNode) !== 'vin') r.invalid(value, `${where}: cnFormat must be "vin"`, keyNode)
        cnFormat = 'vin'
        break
      case 'clientId': {
        const text = r.string(value, `${where}: clientId`, keyNode)
        clientId = template(r, value, keyNode, `${where}: clientId`, () => parseClientIdTemplate(text))
        break
      }
      case 'publish':
      case 'subscribe':
      case 'retain': {
        const rules = r.strings(value, `${where}: ${key}`, keyNode).map(({ text, node: n }, k) =>
          template(r, n, keyNode, `${where}: ${key}[${k}]`, () => parseTopicTemplate(text, key === 'subscribe' ? 'subscribe' : 'publish')))
        if (key === 'publish') publish = rules
        else if (key === 'subscribe') subscribe = rules
        else {
          // one retained message per rule and identity: a wildcard would let one car pin any number
          const wild = rules.findIndex((t) => t.levels.some((l) => l.length === 1 && (l[0] === '+' || l[0] === '#')))
          if (wild >= 0) r.invalid(value, `${where}: retain[${wild}] "${rules[wild]!.text}" must be an exact topic (no + or #): each identity may retain one message per rule`, keyNode)
          retain = rules
        }
        break
      }
      default: r.unknownKey(keyNode, key, `in ${where}`, ROLE_KEYS)
    }
  }
  if (match === undefined) return r.invalid(nameNode, `${where}: missing required key "match"`)
  if (clientId === undefined) return r.invalid(nameNode, `${where}: missing required key "clientId"`)
  // With a trailing `*`, CN "ops" may use clientId "ops-eu": a rule on ${clientId} would then
  // hand it "svc/ops-eu/inbox", the topic of certificate "ops-eu". Such a role has no safe meaning.
  if (clientId.prefix && [...publish, ...subscribe, ...retain].some((t) => t.placeholders.some((p) => p.kind === 'clientId'))) {
    return r.invalid(nameNode, `${where}: \${clientId} in a topic rule needs an exact clientId template ("${clientId.text}" lets one certificate use another's clientId, and so its topics)`)
  }
  return { name, match, ...(cnFormat !== undefined ? { cnFormat } : {}), clientId, publish, subscribe, retain }
}

function template<T> (r: Reader, node: AnyNode, fallback: Node, what: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof TemplateProblem) return r.invalid(node, `${what}: ${err.message}`, fallback)
    throw err
  }
}

function readMatch (r: Reader, role: string, matchKey: Node, node: AnyNode): MatchSpec {
  const where = `match of ${role}`
  let subject: (readonly [string, string])[] = []
  let issuer: (readonly [string, string])[] = []
  let san: { dns?: string; uri?: string } = {}
  let policy: string | undefined
  let issuerKey: string[] | undefined
  const entries = r.entries(node, where, matchKey)
  // an empty match would give every trusted certificate this role
  if (entries.length === 0) r.invalid(node, `${role}: match is empty (it would match every certificate)`, matchKey)
  for (const { key, keyNode, value } of entries) {
    switch (key) {
      case 'subject':
      case 'issuer': {
        const attrs = r.entries(value, `match.${key} of ${role}`, keyNode).map(({ key: attr, keyNode: attrNode, value: v }) => {
          if (!ATTR.test(attr)) r.invalid(attrNode, `${role}: match.${key}: "${attr}" is not an attribute short name (like CN, OU, O, serialNumber)`)
          return [attr, r.string(v, `${role}: match.${key}.${attr}`, attrNode)] as const
        })
        if (attrs.length === 0) r.invalid(value, `${role}: match.${key} is empty`, keyNode)
        if (key === 'subject') subject = attrs
        else issuer = attrs
        break
      }
      case 'san': {
        const fields = r.entries(value, `match.san of ${role}`, keyNode)
        if (fields.length === 0) r.invalid(value, `${role}: match.san is empty`, keyNode)
        san = {}
        for (const { key: field, keyNode: fieldNode, value: v } of fields) {
          if (field !== 'dns' && field !== 'uri') r.unknownKey(fieldNode, field, `in match.san of ${role}`, SAN_KEYS)
          san[field as 'dns' | 'uri'] = r.string(v, `${role}: match.san.${field}`, fieldNode)
        }
        break
      }
      case 'policy':
        policy = r.string(value, `${role}: match.policy`, keyNode)
        if (!OID.test(policy)) r.invalid(value, `${role}: match.policy "${policy}" is not a dotted OID like "1.3.6.1.4.1.99999.1"`, keyNode)
        break
      case 'issuerKey': {
        const list = isSeq(value) ? r.strings(value, `${role}: match.issuerKey`, keyNode) : [{ text: r.string(value, `${role}: match.issuerKey`, keyNode), node: value as Node }]
        if (list.length === 0) r.invalid(value, `${role}: match.issuerKey is empty`, keyNode)
        issuerKey = list.map(({ text, node: n }) => {
          const hex = text.trim().toLowerCase().replace(/:/g, '')
          if (!SHA256_HEX.test(hex)) r.invalid(n, `${role}: match.issuerKey "${text}" is not a SHA-256 in hex (64 digits; of the issuing CA's SubjectPublicKeyInfo DER)`, keyNode)
          return hex
        })
        break
      }
      default: r.unknownKey(keyNode, key, `in ${where}`, MATCH_KEYS)
    }
  }
  return { subject, issuer, san, ...(policy !== undefined ? { policy } : {}), ...(issuerKey !== undefined ? { issuerKey } : {}) }
}
