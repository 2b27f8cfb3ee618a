// --proxy-from: addresses and CIDR blocks, comma-separated. Pure; the broker
// turns the parsed list into a node:net BlockList.
import { isIPv4, isIPv6 } from 'node:net'

export interface AddressBlock { readonly address: string; readonly prefix: number; readonly family: 'ipv4' | 'ipv6' }

/** The blocks of `text`, or the first problem (naming the entry). */
export function parseAddressList (text: string): { ok: true; blocks: AddressBlock[] } | { ok: false; problem: string } {
  const blocks: AddressBlock[] = []
  const entries = text.split(',').map((e) => e.trim())
  for (const entry of entries) {
    if (entry === '') return { ok: false, problem: `empty entry in "${text}"` }
    const slash = entry.indexOf('/')
    const address = slash < 0 ? entry : entry.slice(0, slash)
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) && !address.includes('%') ? 'ipv6' : null
    if (family === null) return { ok: false, problem: `"${entry}" is not an IPv4 or IPv6 address or CIDR block` }
    const max = family === 'ipv4' ? 32 : 128
    let prefix = max
    if (slash >= 0) {
      const bits = entry.slice(slash + 1)
      if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return { ok: false, problem: `"${entry}": prefix length must be 0-${max}` }
      prefix = Number(bits)
    }
    blocks.push({ address, prefix, family })
  }
  return { ok: true, blocks }
}
