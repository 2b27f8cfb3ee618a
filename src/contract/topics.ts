// Topic shapes of the contract (README "Topics") that the broker and its checks must know.

/** `vehicles/{vin}/commands`: returns the VIN, or null for any other topic. */
export function commandTopicVin (topic: string): string | null {
  if (!topic.startsWith('vehicles/') || !topic.endsWith('/commands')) return null
  const vin = topic.slice(9, -9)
  return vin.length > 0 && !vin.includes('/') ? vin : null
}
