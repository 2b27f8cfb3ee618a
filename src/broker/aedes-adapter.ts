// The one place that reaches into Aedes' private Client shape for delivery.
// Checked against aedes 1.2.0 (lib/client.js, lib/write.js, lib/handlers/subscribe.js);
// test/unit/broker/aedes-adapter.test.ts fails when the installed Aedes differs.
//
// What fleetgate relies on, from those sources:
// - the Client constructor makes two per-client closures, `deliver0` and `deliverQoS`
//   (packet, cb); SUBSCRIBE (and a restored session) registers whichever of them
//   fits the granted QoS with the broker's mq, reading the property at that time, so
//   replacing them before the first SUBSCRIBE changes every delivery to the client;
//   `deliverQoS` reaches QoS 0 through `this.deliver0` (the property, so the wrapper);
// - both run authorizeForward, then write in a setImmediate, and call `cb` only when
//   the write is done: after the socket's 'drain' when the write found it full;
// - write() calls `client.waitForDrain(done)` when `mqtt.writeToStream` returned false
//   (a prototype method; an own property of the instance takes precedence);
// - `clean` is the session's clean flag, `closed` is set by close().
import type { Aedes, AedesPublishPacket, Client } from 'aedes'

export const AEDES_CHECKED_VERSION = '1.2.0'

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
export function clientInternals (client: Client): AedesClientInternals | null {
  const c = client as unknown as Partial<AedesClientInternals> & object
  if (!Object.prototype.hasOwnProperty.call(c, 'deliver0') || typeof c.deliver0 !== 'function' || c.deliver0.length !== 2) return null
  if (!Object.prototype.hasOwnProperty.call(c, 'deliverQoS') || typeof c.deliverQoS !== 'function' || c.deliverQoS.length !== 2) return null
  if (aedesWaitForDrain(c as AedesClientInternals) === undefined) return null
  const conn = c.conn as Partial<OutboundStream> | undefined
  if (!conn || typeof conn.writableLength !== 'number' || typeof conn.once !== 'function') return null
  return c as AedesClientInternals
}

/** Aedes 1.2's version getter on the broker instance. */
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
