// Flag checks of the sim commands alone (the shared ones are fleetgate/cli's).
import { durationFlag } from '../../src/cli/index.js'

/** --telemetry-interval of sim car and sim fleet: 0 (none) up to a day */
export function telemetryIntervalFlag (text: string): number {
  return durationFlag('--telemetry-interval', text, 'not a duration (e.g. 5s, 500ms, 0)', (ms) => ms <= 86_400_000)
}
