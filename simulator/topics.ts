// The contract's topics of one vehicle (README "Topics").
export function vehicleTopics (vin: string) {
  const base = `vehicles/${vin}`
  return {
    status: `${base}/status`,
    commands: `${base}/commands`,
    results: `${base}/command-results`,
    /** the car's key list as it last published it (retained, signed by the car) */
    keys: `${base}/keys`,
    telemetry: (stream: 'speed' | 'battery' | 'location') => `${base}/telemetry/${stream}`,
  }
}
