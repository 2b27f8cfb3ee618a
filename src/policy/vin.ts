// ISO 3779 VIN shape: 17 characters, digits and capitals without I, O, Q
// (they read like 1 and 0). No check-digit test: it is only mandatory in North America.
const VIN = /^[A-HJ-NPR-Z0-9]{17}$/

export function isVin (s: string): boolean {
  return VIN.test(s)
}
