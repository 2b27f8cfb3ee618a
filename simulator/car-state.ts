// The simulated car's small state model and its telemetry. Only verified
// commands (from the allowlist, with checked arguments) reach apply().
import type { VerifiedCommand } from '../src/index.js'

export interface CarState {
  locked: boolean
  engine: 'off' | 'on'
  climate: boolean
  chargeLimit: number
  /** 0-100 */
  battery: number
  speed: number
  lat: number
  lon: number
}

export function initialState (): CarState {
  return { locked: true, engine: 'off', climate: false, chargeLimit: 80, battery: 72, speed: 0, lat: 48.1374, lon: 11.5755 }
}

/** Act on one verified command; returns a short description of what changed. */
export function apply (state: CarState, command: VerifiedCommand): string {
  switch (command.cmd) {
    case 'lock': state.locked = true; return 'locked'
    case 'unlock': state.locked = false; return 'unlocked'
    case 'honk': return 'honked'
    case 'flash_lights': return 'lights flashed'
    case 'climate_on': state.climate = true; return 'climate on'
    case 'climate_off': state.climate = false; return 'climate off'
    case 'remote_start': state.engine = 'on'; return 'engine on'
    case 'set_charge_limit': state.chargeLimit = command.args.percent as number; return `charge limit ${state.chargeLimit}%`
    case 'diagnostics': return `diagnostics: battery ${Math.round(state.battery)}%, engine ${state.engine}`
    case 'add_key': return `key added (${String(command.args.role)})`
    case 'remove_key': return 'key removed'
    case 'transfer': return 'transferred to a new owner'
  }
}

/** One telemetry step: the car drifts a little when the engine runs. */
export function tick (state: CarState, rand: () => number = Math.random): { speed: number; battery: number; location: { lat: number; lon: number } } {
  if (state.engine === 'on') {
    state.speed = Math.max(0, Math.min(130, state.speed + (rand() - 0.4) * 10))
    state.battery = Math.max(0, state.battery - 0.05)
    state.lat += (rand() - 0.5) * 1e-3
    state.lon += (rand() - 0.5) * 1e-3
  } else {
    state.speed = 0
  }
  return { speed: Math.round(state.speed * 10) / 10, battery: Math.round(state.battery * 10) / 10, location: { lat: state.lat, lon: state.lon } }
}
