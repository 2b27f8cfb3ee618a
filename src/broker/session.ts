// Per-connection state, set in authenticate and read by every later hook.
import type { Client } from 'aedes'
import type { Identity } from '../identity/index.js'
import type { Grant } from '../policy/index.js'
import type { AuditLogger } from '../audit/index.js'
import type { Reason } from '../contract/reasons.js'
import type { RevocationTarget } from '../revocation/types.js'
import { caTargetsOf } from '../revocation/query.js'
import { targetKey } from '../revocation/schema.js'
import { ConnectionSlot } from '../aedes/slots.js'

export interface Session {
  readonly identity: Identity
  grant: Grant
  readonly log: AuditLogger
  readonly remote: string | undefined
  /** set when fleetgate closes the session itself (revoked, policy_changed): its Will is dropped */
  endedFor?: Reason
  /** the policy role it is judged under instead of its own (a quarantined certificate), if any */
  judgedAs?: string
  /** the token of this connection's clientId owner record (src/sessions) */
  ownerToken?: string
}

/** What the TLS layer learnt about a connection, keyed by the stream handed to broker.handle. */
export interface ConnectionInfo {
  readonly identity: Identity | null
  readonly remote: string | undefined
  /** a refusal decided before MQTT (identity check), reported at CONNECT */
  readonly refusal?: { reason: Reason; detail?: string }
  /** the trust bundle generation this was decided under: a reload in between means deciding again */
  readonly generation?: number
  /** the TLS session was resumed from a ticket (no certificate sent in this handshake) */
  readonly resumed?: boolean
}

/** one Client, or a Set when several share a key (rare per certificate: no Set per connection) */
type Held = Client | Set<Client>

function hold<K> (map: Map<K, Held>, key: K, client: Client): void {
  const held = map.get(key)
  if (held === undefined) map.set(key, client)
  else if (held instanceof Set) held.add(client)
  else if (held !== client) map.set(key, new Set([held, client]))
}

function release<K> (map: Map<K, Held>, key: K, client: Client): void {
  const held = map.get(key)
  if (held === client) map.delete(key)
  else if (held instanceof Set) {
    held.delete(client)
    if (held.size === 1) map.set(key, held.values().next().value!)
    else if (held.size === 0) map.delete(key)
  }
}

function addHeld (out: Set<Client>, held: Held | undefined): void {
  if (held === undefined) return
  if (held instanceof Set) for (const c of held) out.add(c)
  else out.add(held)
}

/** a leaf without an issuing CA (no chain) is grouped under this issuer; no target names it */
const NO_ISSUER = ''

/** the revocation keys (targetKey) of the CAs of a chain: chains are shared by every leaf of a CA path, so are these */
const caKeysByChain = new WeakMap<Identity['chain'], readonly string[]>()
function caKeysOf (chain: Identity['chain']): readonly string[] {
  let keys = caKeysByChain.get(chain)
  if (keys === undefined) caKeysByChain.set(chain, (keys = caTargetsOf(chain).map(targetKey)))
  return keys
}

/** told of every session the registry gains and loses (the expiry guard) */
export interface SessionObserver {
  added (client: Client, session: Session): void
  removed (client: Client, session: Session): void
}

/**
 * The live sessions, indexed for revocation (ARCHITECTURE.md step 9): by every key the
 * revocation check asks about for them (targetsOf), so a revocation event looks
 * up the sessions it names instead of scanning all of them. Entries come and go
 * with set and delete (called when the connection closes, whatever ended it).
 */
export class SessionRegistry {
  readonly #byClient = new ConnectionSlot<Session>('session')
  readonly #live = new Set<Client>()
  /** clientId -> the live client holding it on this node (the newest, during a takeover) */
  readonly #byClientId = new Map<string, Client>()
  /** leaf fingerprint -> sessions */
  readonly #byFingerprint = new Map<string, Held>()
  /** issuing CA fingerprint -> leaf serial -> sessions: keys are the identity's own strings, none made per session */
  readonly #byIssuerSerial = new Map<string, Map<string, Held>>()
  /**
   * CA key (targetKey of a CA above the leaf: fingerprint, or issuer + serial) ->
   * issuing CA fingerprint -> how many sessions under it have that CA above them.
   * Per CA, not per session: a revoked CA ends every session of those issuers' groups.
   */
  readonly #issuersByCaKey = new Map<string, Map<string, number>>()
  readonly #observers: SessionObserver[] = []

  /** be told of every session added and removed from now on */
  observe (observer: SessionObserver): void { this.#observers.push(observer) }

  set (client: Client, session: Session): void {
    const before = this.#byClient.get(client)
    if (before !== undefined && this.#live.has(client)) this.#unindex(client, before)
    this.#byClient.set(client, session)
    this.#live.add(client)
    if (client.id) this.#byClientId.set(client.id, client)
    const identity = session.identity
    const issuer = identity.issuerFingerprint ?? NO_ISSUER
    hold(this.#byFingerprint, identity.fingerprint, client)
    let bySerial = this.#byIssuerSerial.get(issuer)
    if (bySerial === undefined) this.#byIssuerSerial.set(issuer, (bySerial = new Map()))
    hold(bySerial, identity.serial, client)
    for (const key of caKeysOf(identity.chain)) {
      let issuers = this.#issuersByCaKey.get(key)
      if (issuers === undefined) this.#issuersByCaKey.set(key, (issuers = new Map()))
      issuers.set(issuer, (issuers.get(issuer) ?? 0) + 1)
    }
    for (const o of this.#observers) o.added(client, session)
  }

  get (client: Client | null | undefined): Session | undefined {
    return client ? this.#byClient.get(client) : undefined
  }

  /** The connection closed (whatever ended the session). get still finds the session: hooks may run for a closing client. */
  delete (client: Client): void {
    if (!this.#live.delete(client)) return
    if (this.#byClientId.get(client.id) === client) this.#byClientId.delete(client.id)
    const session = this.#byClient.get(client)
    if (session) this.#unindex(client, session)
  }

  #unindex (client: Client, session: Session): void {
    for (const o of this.#observers) o.removed(client, session)
    const identity = session.identity
    const issuer = identity.issuerFingerprint ?? NO_ISSUER
    release(this.#byFingerprint, identity.fingerprint, client)
    const bySerial = this.#byIssuerSerial.get(issuer)
    if (bySerial !== undefined) {
      release(bySerial, identity.serial, client)
      if (bySerial.size === 0) this.#byIssuerSerial.delete(issuer)
    }
    for (const key of caKeysOf(identity.chain)) {
      const issuers = this.#issuersByCaKey.get(key)
      const n = issuers?.get(issuer)
      if (issuers === undefined || n === undefined) continue
      if (n > 1) issuers.set(issuer, n - 1)
      else if (issuers.delete(issuer) && issuers.size === 0) this.#issuersByCaKey.delete(key)
    }
  }

  /** the live client holding `clientId` on this node */
  byClientId (clientId: string): Client | undefined { return this.#byClientId.get(clientId) }

  byFingerprint (fp: string): readonly Client[] {
    const held = this.#byFingerprint.get(fp)
    return held === undefined ? [] : held instanceof Set ? [...held] : [held]
  }

  /**
   * The live sessions a revocation of one of `targets` can end: the leaf named by
   * fingerprint or by issuer + serial, and every session whose issuing CA has a
   * named CA above it (or is one). A superset when one issuing CA sits on several
   * CA paths: the caller checks each session's own keys.
   */
  candidatesFor (targets: Iterable<RevocationTarget>): Set<Client> {
    const out = new Set<Client>()
    const issuersTaken = new Set<string>()
    for (const t of targets) {
      if ('fingerprint' in t) addHeld(out, this.#byFingerprint.get(t.fingerprint))
      else addHeld(out, this.#byIssuerSerial.get(t.issuer)?.get(t.serial))
      const issuers = this.#issuersByCaKey.get(targetKey(t))
      if (issuers === undefined) continue
      for (const issuer of issuers.keys()) {
        if (issuersTaken.has(issuer)) continue
        issuersTaken.add(issuer)
        for (const held of this.#byIssuerSerial.get(issuer)?.values() ?? []) addHeld(out, held)
      }
    }
    return out
  }

  live (): readonly Client[] { return [...this.#live] }
  get size (): number { return this.#live.size }
}
