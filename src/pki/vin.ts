// ISO 3779 VINs: 17 characters of A-HJ-NPR-Z0-9 (no I, O, Q). The North
// American check digit (49 CFR 565) sits at position 9.
import { randomInt } from 'node:crypto'
import { isVin } from '../policy/vin.js'

export { isVin }

export const VIN_ALPHABET = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789'
const WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2] as const
const LETTER_VALUES: Readonly<Record<string, number>> = {
  A: 1, B: 2, C: 3, D: 4, E: 5, F: 6, G: 7, H: 8,
  J: 1, K: 2, L: 3, M: 4, N: 5, P: 7, R: 9,
  S: 2, T: 3, U: 4, V: 5, W: 6, X: 7, Y: 8, Z: 9,
}

/**
 * The North American check digit ('0'-'9' or 'X') of a 17-character VIN; the
 * character at position 9 is ignored (weight 0). Throws on a value that is not
 * VIN-shaped.
 */
export function vinCheckDigit (vin: string): string {
  if (!isVin(vin)) throw new RangeError(`not a VIN: ${JSON.stringify(vin)}`)
  let sum = 0
  for (let i = 0; i < 17; i++) {
    const c = vin[i] as string
    const value = c >= '0' && c <= '9' ? c.charCodeAt(0) - 48 : (LETTER_VALUES[c] as number)
    sum += value * (WEIGHTS[i] as number)
  }
  const r = sum % 11
  return r === 10 ? 'X' : String(r)
}

/** VIN-shaped and its position 9 holds the correct check digit */
export function hasValidCheckDigit (vin: string): boolean {
  return isVin(vin) && vin[8] === vinCheckDigit(vin)
}

/** A random VIN with a correct check digit. */
export function randomVin (): string {
  const chars: string[] = []
  for (let i = 0; i < 17; i++) chars.push(VIN_ALPHABET[randomInt(VIN_ALPHABET.length)] as string)
  chars[8] = '0'
  const vin = chars.join('')
  return vin.slice(0, 8) + vinCheckDigit(vin) + vin.slice(9)
}

/** `count` distinct random VINs */
export function randomVins (count: number): string[] {
  const seen = new Set<string>()
  while (seen.size < count) seen.add(randomVin())
  return [...seen]
}
