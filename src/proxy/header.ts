// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2): a
// load balancer in TCP pass-through writes it before the client's first byte,
// so the broker learns the client's address. Pure: it reads the bytes received
// so far and says whether they are a whole header, the start of one, or not one.
// Every byte is hostile: sizes are bounded before anything is buffered, nothing
// partial is accepted, and only what a TCP listener can use is: TCP over IPv4 or
// IPv6, or "no address" (v2 LOCAL, v1 UNKNOWN, v2 UNSPEC: the balancer's own
// connection, e.g. a health check). Parsed here rather than with an npm parser:
// proxy-protocol-js (the maintained one) cannot tell a partial header from a
// bad one, takes v2 TLVs as payload and accepts any text as a v1 address.
import { isIPv4, isIPv6, SocketAddress } from 'node:net'

/** v1: the longest line, CRLF included (proxy-protocol.txt 2.1) */
export const V1_MAX_BYTES = 107
/** v2: the 16 fixed bytes before the address block */
export const V2_FIXED_BYTES = 16
/** v2: the largest address block + TLVs taken (the field allows 65,535; HAProxy's own TLVs fit in far less) */
export const V2_MAX_LENGTH = 2048

const V1_SIGNATURE = Buffer.from('PROXY ', 'ascii')
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

export type ProxyHeader =
  /** a connection relayed for a client at `address` */
  | { readonly command: 'proxy'; readonly version: 1 | 2; readonly family: 'IPv4' | 'IPv6'; readonly address: string; readonly port: number }
  /** the balancer's own connection (health check) or an unknown origin: the peer's address stands */
  | { readonly command: 'local'; readonly version: 1 | 2 }

export type HeaderScan =
  /** a prefix of a header that may still be valid: wait for more bytes */
  | { readonly state: 'partial' }
  /** a whole header of `length` bytes; what follows is the client's stream */
  | { readonly state: 'done'; readonly header: ProxyHeader; readonly length: number }
  /** the first bytes start no PROXY header at all */
  | { readonly state: 'missing'; readonly detail: string }
  /** started as a header, then broke a rule (including a size bound) */
  | { readonly state: 'invalid'; readonly detail: string }

const PARTIAL: HeaderScan = { state: 'partial' }
const invalid = (detail: string): HeaderScan => ({ state: 'invalid', detail })

/** How far `bytes` agrees with `signature`: -1 on a mismatch, else the bytes matched. */
function matchPrefix (bytes: Buffer, signature: Buffer): number {
  const n = Math.min(bytes.length, signature.length)
  for (let i = 0; i < n; i++) if (bytes[i] !== signature[i]) return -1
  return n
}

/** Scan the bytes received so far (from the connection's first byte). */
export function scanProxyHeader (bytes: Buffer): HeaderScan {
  if (bytes.length === 0) return PARTIAL
  if (bytes[0] === V1_SIGNATURE[0]) return scanV1(bytes)
  if (bytes[0] === V2_SIGNATURE[0]) return scanV2(bytes)
  return { state: 'missing', detail: `first byte 0x${bytes[0]!.toString(16).padStart(2, '0')} starts no PROXY header` }
}

/** A client address as fleetgate keys it: IPv6 in its canonical text, an IPv4-mapped IPv6 address as IPv4. */
export function canonicalAddress (address: string, family: 'IPv4' | 'IPv6'): string {
  if (family === 'IPv4') return address
  const text = new SocketAddress({ address, family: 'ipv6' }).address
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  return mapped ? mapped[1]! : text
}

const PORT = /^(0|[1-9][0-9]{0,4})$/

function scanV1 (bytes: Buffer): HeaderScan {
  if (matchPrefix(bytes, V1_SIGNATURE) < 0) return invalid('v1: not "PROXY "')
  const limit = Math.min(bytes.length, V1_MAX_BYTES)
  let end = -1
  for (let i = 0; i < limit; i++) {
    const b = bytes[i]!
    if (b === 0x0d) {
      if (i + 1 < bytes.length && bytes[i + 1] !== 0x0a) return invalid('v1: CR not followed by LF')
      if (i + 1 < limit) { end = i; break }
      continue
    }
    // printable ASCII only: no LF alone, no NUL, no control bytes
    if (b < 0x20 || b > 0x7e) return invalid(`v1: byte 0x${b.toString(16).padStart(2, '0')} in the header line`)
  }
  if (end < 0) return bytes.length >= V1_MAX_BYTES ? invalid(`v1: no CRLF within ${V1_MAX_BYTES} bytes`) : PARTIAL
  const line = bytes.toString('ascii', V1_SIGNATURE.length, end)
  const length = end + 2
  const fields = line.split(' ')
  const proto = fields[0]
  // UNKNOWN: the rest of the line is to be ignored, the connection's own addresses stand
  if (proto === 'UNKNOWN') return { state: 'done', header: { command: 'local', version: 1 }, length }
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid(`v1: protocol "${clipText(proto ?? '')}" (TCP4, TCP6 or UNKNOWN)`)
  if (fields.length !== 5) return invalid('v1: expected "PROXY TCPx <src> <dst> <srcport> <dstport>"')
  const [, src, dst, srcPort, dstPort] = fields as [string, string, string, string, string]
  const family = proto === 'TCP4' ? 'IPv4' : 'IPv6'
  const valid = family === 'IPv4' ? isIPv4 : (a: string) => isIPv6(a) && !a.includes('%')
  if (!valid(src) || !valid(dst)) return invalid(`v1: an address is not ${family}`)
  if (!PORT.test(srcPort) || !PORT.test(dstPort) || Number(srcPort) > 65535 || Number(dstPort) > 65535) return invalid('v1: a port is not 0-65535')
  return { state: 'done', header: { command: 'proxy', version: 1, family, address: canonicalAddress(src, family), port: Number(srcPort) }, length }
}

function scanV2 (bytes: Buffer): HeaderScan {
  const matched = matchPrefix(bytes, V2_SIGNATURE)
  if (matched < 0) return invalid('v2: signature mismatch')
  if (bytes.length < V2_FIXED_BYTES) {
    // judge the fixed bytes as soon as they arrive
    if (bytes.length > 12 && (bytes[12]! & 0xf0) !== 0x20) return invalid(`v2: version ${bytes[12]! >> 4}`)
    return PARTIAL
  }
  const verCmd = bytes[12]!
  if ((verCmd & 0xf0) !== 0x20) return invalid(`v2: version ${verCmd >> 4}`)
  const command = verCmd & 0x0f
  if (command > 1) return invalid(`v2: command ${command}`)
  const famProto = bytes[13]!
  const length = bytes.readUInt16BE(14)
  if (length > V2_MAX_LENGTH) return invalid(`v2: address block of ${length} bytes, at most ${V2_MAX_LENGTH}`)
  let need = 0
  if (command === 1) {
    // PROXY: TCP over IPv4 or IPv6, or UNSPEC; UDP and unix sockets mean nothing on a TCP listener
    if (famProto === 0x11) need = 12
    else if (famProto === 0x21) need = 36
    else if (famProto !== 0x00) return invalid(`v2: family/protocol 0x${famProto.toString(16).padStart(2, '0')} (TCP over IPv4 or IPv6 only)`)
  } else if (![0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32].includes(famProto)) {
    return invalid(`v2: family/protocol 0x${famProto.toString(16).padStart(2, '0')}`)
  }
  if (length < need) return invalid(`v2: address block of ${length} bytes, ${need} needed`)
  const total = V2_FIXED_BYTES + length
  if (bytes.length < total) return PARTIAL
  // LOCAL (health checks) and UNSPEC: the address block and TLVs are skipped
  if (need === 0) return { state: 'done', header: { command: 'local', version: 2 }, length: total }
  const a = V2_FIXED_BYTES
  if (famProto === 0x11) {
    const address = `${bytes[a]}.${bytes[a + 1]}.${bytes[a + 2]}.${bytes[a + 3]}`
    return { state: 'done', header: { command: 'proxy', version: 2, family: 'IPv4', address, port: bytes.readUInt16BE(a + 8) }, length: total }
  }
  const groups: string[] = []
  for (let g = 0; g < 8; g++) groups.push(bytes.readUInt16BE(a + 2 * g).toString(16))
  return { state: 'done', header: { command: 'proxy', version: 2, family: 'IPv6', address: canonicalAddress(groups.join(':'), 'IPv6'), port: bytes.readUInt16BE(a + 32) }, length: total }
}

function clipText (s: string): string { return s.length > 16 ? s.slice(0, 16) + '...' : s }

/** A v1 header line (for clients and tests). */
export function encodeV1 (family: 'IPv4' | 'IPv6', source: string, sourcePort: number, destination: string, destinationPort: number): Buffer {
  return Buffer.from(`PROXY ${family === 'IPv4' ? 'TCP4' : 'TCP6'} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`, 'ascii')
}

/** A v2 header: PROXY over TCP (IPv4 or IPv6), or LOCAL when `source` is null. */
export function encodeV2 (source: { family: 'IPv4' | 'IPv6'; address: string; port: number; destination: string; destinationPort: number } | null): Buffer {
  if (source === null) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])])
  const v4 = source.family === 'IPv4'
  const body = Buffer.alloc(v4 ? 12 : 36)
  const put = (text: string, at: number) => {
    if (v4) text.split('.').forEach((o, i) => { body[at + i] = Number(o) })
    else ipv6Bytes(text).copy(body, at)
  }
  put(source.address, 0)
  put(source.destination, v4 ? 4 : 16)
  body.writeUInt16BE(source.port, v4 ? 8 : 32)
  body.writeUInt16BE(source.destinationPort, v4 ? 10 : 34)
  const head = Buffer.from([0x21, v4 ? 0x11 : 0x21, 0, 0])
  head.writeUInt16BE(body.length, 2)
  return Buffer.concat([V2_SIGNATURE, head, body])
}

function ipv6Bytes (text: string): Buffer {
  const [head = '', tail] = text.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i))
  return out
}
