// The one place that reaches into Aedes' private shape (what its types do not
// declare): every cast into Aedes is here, named by what it relies on.
// Checked against aedes 1.2.0 (aedes.js, lib/client.js, lib/write.js,
// lib/handlers/*.js); test/unit/aedes/adapter.test.ts starts a real Aedes
// and fails when the installed one differs from what is listed below.
//
// The Client (lib/client.js):
// - the constructor makes two per-client closures, `deliver0` and `deliverQoS`
//   (packet, cb); SUBSCRIBE (and a restored session) registers whichever of them
//   fits the granted QoS with the broker's mq, reading the property at that time, so
//   replacing them before the first SUBSCRIBE changes every delivery to the client;
//   `deliverQoS` reaches QoS 0 through `this.deliver0` (the property, so the wrapper);
// - both run authorizeForward, then write in a setImmediate, and call `cb` only when
//   the write is done: after the socket's 'drain' when the write found it full;
// - write() calls `client.waitForDrain(done)` when `mqtt.writeToStream` returned false
//   (a prototype method; an own property of the instance takes precedence);
// - `clean` is the session's clean flag, `closed` is set by close();
// - `connackSent` turns true once the CONNACK is written (a session's restore,
//   stored subscriptions included, runs before it);
// - `broker` is the Aedes instance it belongs to;
// - the stream handed to broker.handle gets `stream.client` = the client, and is
//   read with `stream.read(null)` on 'readable' (src/checks/read-guard.ts wraps read());
//   it reads again once every packet of the last read is handled, and a read()
//   that returns null leaves it waiting for the next 'readable' (the guard's fair
//   reads rely on both: test/integration/flood.test.ts "fair reads");
// The broker (aedes.js):
// - `clients`: clientId -> connected Client;
// - `mq`: the emitter every publish and `$SYS` announcement goes through
//   (`on(topic, listener(packet, done))`; mqemitter's `concurrency` read per emit);
// - `persistence`: the aedes-persistence instance (addSubscriptions, ...);
// - `opts.drainTimeout`, read per wait by waitForDrain;
// - `connectTimeout`, `maxTopicLevels`, `maxInflightInbound`: read per client
//   and per packet from the instance, so they can be set after construction;
// - `version`: the package version (a getter);
// - `handle(stream, req)`: makes the Client for a stream and returns it.
// The persistence (aedes-persistence 10 under aedes-persistence-redis 12):
// - the instance Aedes gets hands each call to `asyncPersistence`, an inner async
//   instance whose own methods call each other (cleanSubscriptions calls its
//   removeSubscriptions): a wrapper must sit on the inner one;
// - `addSubscriptions(client, subs)` returns a promise when called without a callback.
import type { Aedes, AedesPublishPacket, Client } from 'aedes'

export const AEDES_CHECKED_VERSION = '1.2.0'
export const AEDES_PERSISTENCE_REDIS_CHECKED_VERSION = '12.0.0'

/** An emitter Aedes publishes through (mqemitter's shape; `concurrency` read per emit). */
export interface BrokerMq {
  emit (packet: { topic: string }, cb?: (err?: Error) => void): unknown
  concurrency?: number
}

export type Deliver = (packet: AedesPublishPacket, cb: () => void) => void
export type DrainWait = (this: AedesClientInternals, done: (err: Error | null, client?: unknown) => void) => void

/** The writable side Aedes writes a client's packets to (the TLSSocket fleetgate hands it). */
export interface OutboundStream {
  readonly writableLength: number
  readonly destroyed: boolean
  once (event: 'drain' | 'close', listener: () => void): unknown
  removeListener (event: 'drain' | 'close', listener: () => void): unknown
}

export interface AedesClientInternals {
  deliver0: Deliver
  deliverQoS: Deliver
  waitForDrain: DrainWait
  readonly clean: boolean
  readonly closed: boolean
  readonly conn: OutboundStream
}

/** Aedes' own waitForDrain (coalesced per client, bounded by drainTimeout), for a wrapper to fall back on. */
export function aedesWaitForDrain (client: AedesClientInternals): DrainWait | undefined {
  const proto = Object.getPrototypeOf(client) as { waitForDrain?: unknown }
  return typeof proto?.waitForDrain === 'function' ? proto.waitForDrain as DrainWait : undefined
}

/**
 * The client as fleetgate uses it for delivery, or null when its shape is not the
 * one this file was checked against (then nothing is replaced: Aedes' own behaviour).
 */
export function clientInternals (client: Client): (AedesClientInternals & Client) | null {
  const c = client as unknown as Partial<AedesClientInternals> & object
  if (!Object.prototype.hasOwnProperty.call(c, 'deliver0') || typeof c.deliver0 !== 'function' || c.deliver0.length !== 2) return null
  if (!Object.prototype.hasOwnProperty.call(c, 'deliverQoS') || typeof c.deliverQoS !== 'function' || c.deliverQoS.length !== 2) return null
  if (aedesWaitForDrain(c as AedesClientInternals) === undefined) return null
  const conn = c.conn as Partial<OutboundStream> | undefined
  if (!conn || typeof conn.writableLength !== 'number' || typeof conn.once !== 'function') return null
  return c as AedesClientInternals & Client
}

/** Aedes' version getter on the broker instance. */
export function aedesVersion (broker: Aedes): string | undefined {
  const v = (broker as unknown as { version?: unknown }).version
  return typeof v === 'string' ? v : undefined
}

/**
 * Aedes' drainTimeout, read per wait from `broker.opts` (lib/client.js waitForDrain),
 * so that it also applies to a broker the user built.
 */
export function setDrainTimeout (broker: Aedes, ms: number): void {
  const opts = (broker as unknown as { opts?: { drainTimeout?: number } }).opts
  if (opts && typeof opts === 'object') opts.drainTimeout = ms
}

/**
 * broker.close(), given at most `ms`: on Redis, Aedes' close waits for mqemitter-redis' close, which waits
 * for both of its links' 'end' after QUIT, and that may never come (Redis gone, or once in a CI run with
 * Redis up). The caller drops the links afterwards (cluster disconnect).
 */
export async function closeBroker (broker: Aedes, ms = 3000): Promise<void> {
  await new Promise<void>((resolve) => { const t = setTimeout(resolve, ms); broker.close(() => { clearTimeout(t); resolve() }) })
}

/** true once Aedes wrote the client's CONNACK (false while a session is being restored). */
export function connackSent (client: Client): boolean {
  return (client as unknown as { connackSent?: unknown }).connackSent === true
}

/** The id of the Aedes instance (cluster node) a client is connected to. */
export function brokerIdOf (client: Client): string {
  return (client as unknown as { broker: Aedes }).broker.id
}

/** The Client Aedes made for a stream handed to broker.handle, once it has. */
export function clientOfStream (stream: object): Client | undefined {
  return (stream as { client?: Client }).client
}

/** Aedes keeps its connected clients by id; its types do not declare the map. */
export function clientsOf (broker: Aedes): Record<string, SessionClient> {
  return (broker as unknown as { clients: Record<string, SessionClient> }).clients
}

/** A `$SYS` packet as the broker's emitter hands it to a listener. */
export interface MqPacket { readonly topic: string; readonly payload: Buffer | string }

/** The broker's emitter: what fleetgate listens on and makes safe (src/cluster/mq.ts). */
export interface AedesMq extends BrokerMq {
  on (topic: string, listener: (packet: MqPacket, done: () => void) => void, cb?: () => void): unknown
}

export function brokerMq (broker: Aedes): AedesMq | undefined {
  return (broker as unknown as { mq?: AedesMq }).mq
}

/** The part of aedes-persistence fleetgate wraps (./stored-subscriptions.ts). */
export interface AedesPersistence {
  addSubscriptions (client: Client, subs: ReadonlyArray<{ topic: string; qos: number }>): Promise<unknown>
}

export function brokerPersistence (broker: Aedes): AedesPersistence {
  return (broker as unknown as { persistence: AedesPersistence }).persistence
}

/** The subscription methods of a persistence, where a wrapper must sit (the inner async instance, if any). */
export interface SubscriptionMethods {
  subscriptionsByClient (client: { id: string }): Promise<Array<{ topic: string; qos: number }>>
  removeSubscriptions (client: { id: string }, topics: string[]): Promise<unknown>
  addSubscriptions (client: { id: string }, subs: ReadonlyArray<{ topic: string; qos: number }>, cb?: (err: Error | null) => void): Promise<unknown> | undefined
}

/** The object whose subscription methods Aedes' calls end in: the inner async persistence, else the persistence itself. */
export function subscriptionMethods (persistence: object): SubscriptionMethods {
  const p = persistence as { asyncPersistence?: SubscriptionMethods }
  return p.asyncPersistence ?? (persistence as SubscriptionMethods)
}

/** The persistence's own addSubscriptions (the object Aedes calls, not the inner one). */
export function persistenceSubscriptions (persistence: object): Pick<SubscriptionMethods, 'addSubscriptions'> {
  return persistence as Pick<SubscriptionMethods, 'addSubscriptions'>
}

/** Who a Will belongs to: Aedes passes a Client (no brokerId) on CONNECT and { id, brokerId } elsewhere. */
export interface WillClient { id: string; brokerId?: string }

/** The Will methods of a persistence as Aedes 1.2 calls them (promise style) and its setup (an AsyncFunction). */
export interface WillMethods {
  setup (broker: { id: string } & object): Promise<unknown>
  putWill (client: WillClient, packet: object): Promise<unknown>
  delWill (client: WillClient): Promise<unknown>
}

/** The persistence's own Will methods (the object Aedes calls, not the inner one). */
export function persistenceWills (persistence: object): WillMethods {
  return persistence as WillMethods
}

/** Whether the client Aedes now holds for this clientId is open and has a Will (lib/client.js sets `will` before registering). */
export function hasLiveWill (broker: object, clientId: string): boolean {
  const client = (broker as { clients?: Record<string, { closed?: boolean; will?: unknown } | undefined> }).clients?.[clientId]
  return client !== undefined && client.closed !== true && client.will != null
}

/** A packet as a persistence stores it and Aedes delivers it (lib/client.js deliverQoS). */
export interface QueuedPacket {
  cmd?: string
  qos?: number
  messageId?: number
  brokerId?: string
  brokerCounter?: number | string
  retain?: boolean
  [field: string]: unknown
}

/** A connected client as the session backlog uses it: its id, clean flag, closed flag and QoS>0 delivery. */
export interface SessionClient extends Client {
  deliverQoS: (packet: QueuedPacket, cb: () => void) => void
}

export function sessionClient (client: Client): SessionClient {
  return client as unknown as SessionClient
}

/** Run `made` on every Client broker.handle makes, right after Aedes made it (before it reads a byte). */
export function onClientMade (broker: Aedes, made: (client: SessionClient) => void): void {
  const b = broker as unknown as { handle: (conn: unknown, req?: unknown) => Client }
  const handle = b.handle
  b.handle = function handleThenTell (conn, req) {
    const client = handle.call(this, conn, req)
    made(sessionClient(client))
    return client
  }
}

/** Limits Aedes reads from the instance per client and per packet. */
export interface ClientLimits {
  readonly connectTimeout: number
  readonly maxTopicLevels: number
  readonly maxInflightInbound: number
}

/** Apply fleetgate's limits to a broker the user built (they are Aedes options, read from the instance). */
export function setClientLimits (broker: Aedes, limits: ClientLimits): void {
  Object.assign(broker as object, limits)
}
