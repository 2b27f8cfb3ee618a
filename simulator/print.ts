// How the simulator reports: one readable line per event, or one JSON line with --json.
import type { CarEvent } from './car.js'

// claimed values from the network are printed bounded and without control characters
export function safe (s: string | null | undefined, max = 64): string {
  if (s === null || s === undefined) return '-'
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?')
  return clean.length > max ? clean.slice(0, max) + '…' : clean
}

export function formatCarEvent (e: CarEvent): string {
  switch (e.evt) {
    case 'connecting': return `car ${e.vin}: connecting to ${e.url}`
    case 'online': return `car ${e.vin}: online`
    case 'offline': return `car ${e.vin}: offline (broker unreachable), reconnecting`
    case 'reconnecting': return `car ${e.vin}: reconnecting (next wait ${e.inMs} ms)`
    case 'command': return e.status === 'executed'
      ? `car ${e.vin}: executed ${safe(e.cmd)} (${e.effect ?? ''}) jti ${safe(e.jti)} from ${safe(e.signer ?? e.by)}${e.role !== undefined ? ` (${e.role})` : ''}`
      : `car ${e.vin}: rejected command jti ${safe(e.jti)}: ${e.reason ?? ''}${e.answered ? '' : ' (no jti: not answered)'}`
    case 'keys': return `car ${e.vin}: key list #${e.seq}: ${e.change.op}${e.change.kid !== undefined ? ` ${e.change.kid}` : ''}${e.change.role !== undefined ? ` (${e.change.role})` : ''}, ${e.keys} user keys`
    case 'telemetry': return `car ${e.vin}: telemetry speed ${e.speed} km/h battery ${e.battery}%`
    case 'error': return `car ${e.vin}: error: ${safe(e.message, 200)}`
    case 'stopped': return `car ${e.vin}: stopped`
  }
}

export function jsonLine (e: object): string {
  return JSON.stringify({ ts: new Date().toISOString(), ...e })
}
