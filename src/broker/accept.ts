// The accept part: what happens to a TCP connection before TLS reads a byte of it
// (ARCHITECTURE.md step 0). Admission control: --max-connections is Node's own
// server.maxConnections (the connection is closed inside accept, no socket object
// made), --max-connect-rate a token bucket checked first thing. With
// --proxy-protocol, the PROXY header: only from --proxy-from, whole, within its
// size bounds and within --handshake-timeout; then the socket goes to the
// tls.Server's own 'connection' listener (Node documents that a connection may be
// handed to a tls.Server that way), with the bytes after the header put back
// (TLSSocket reads what its socket already holds first). --max-handshakes bounds
// the connections handed to TLS and not yet secure or failed (each ends in exactly
// one 'secureConnection' or 'tlsClientError' of the server). The session ticket
// callback, the handshake timeout and 'tlsClientError' stay the tls.Server's.
// Every refusal here is counted (fleetgate_decisions_total{evt="accept.deny"}) and
// audited at a sampled rate (SampledAudit): a storm does not flood the log.
import { BlockList, isIPv4, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Server as TlsServer } from 'node:tls'
import type { Config } from '../config/index.js'
import { parseAddressList } from '../config/index.js'
import type { SampledAudit } from '../audit/index.js'
import type { DecisionCounter } from '../contract/checks.js'
import type { AcceptReason } from '../contract/reasons.js'
import { ConnectRate } from '../checks/index.js'
import { scanProxyHeader } from '../proxy/header.js'

export interface AcceptDeps {
  readonly config: Config
  readonly audit: SampledAudit
  readonly decisions: DecisionCounter
  readonly addresses: ClientAddresses
}

interface Relayed { readonly address: string; readonly raw: Socket }

/**
 * The client's address of each connection: the PROXY header's when one named a
 * client, else the socket's own. Kept by the TCP peer (the load balancer's address,
 * port and the local address), which the TLSSocket over the same TCP connection reports too.
 */
export class ClientAddresses {
  readonly #relayed = new Map<string, Relayed>()

  /** the client's address of a TCP or TLS socket of this server */
  remoteOf (socket: Socket): string | undefined {
    if (this.#relayed.size === 0) return socket.remoteAddress
    return this.#relayed.get(peerKey(socket))?.address ?? socket.remoteAddress
  }

  /** `raw` was relayed for `address`, until it closes */
  relay (raw: Socket, address: string): void {
    const key = peerKey(raw)
    const entry = { address, raw }
    this.#relayed.set(key, entry)
    // kept one more turn: the TLSSocket's last events (a 'tlsClientError' on a hang-up) follow the raw close
    raw.once('close', () => setImmediate(() => { if (this.#relayed.get(key) === entry) this.#relayed.delete(key) }))
  }

  get size (): number { return this.#relayed.size }
}

function peerKey (socket: Socket): string {
  return `${socket.remoteAddress} ${socket.remotePort} ${socket.localAddress}`
}

type ConnectionListener = (this: TlsServer, socket: Socket) => void

const ignore = (): void => {}

/**
 * Put the accept checks in front of `server`'s TLS: its 'connection' listeners
 * (the tls.Server's own) run only for connections admitted here. Call once, before listen.
 */
export function installAcceptGate (server: TlsServer, deps: AcceptDeps): void {
  const { config, audit, decisions } = deps
  if (config.maxConnections > 0) {
    server.maxConnections = config.maxConnections
    server.on('drop', (data?: { remoteAddress?: string }) => {
      decisions.inc('accept.deny', 'max_connections_reached')
      audit.warn('accept.deny', 'max_connections_reached', { remote: data?.remoteAddress, max: config.maxConnections }, 'connection refused at accept: node at --max-connections')
    })
  }
  // a monotonic clock: a wall clock stepped back (NTP, a resumed VM) would hold the bucket empty
  const rate = config.maxConnectRate > 0 ? new ConnectRate(config.maxConnectRate, performance.now()) : null
  const maxHandshakes = config.maxHandshakes
  const proxy = config.proxyProtocol ? proxyGate(config, deps) : null
  if (rate === null && maxHandshakes === 0 && proxy === null) return
  let handshakes = 0
  const ended = () => { if (handshakes > 0) handshakes-- }
  if (maxHandshakes > 0) {
    server.on('secureConnection', ended)
    server.on('tlsClientError', ended)
  }
  const inner = server.listeners('connection') as ConnectionListener[]
  server.removeAllListeners('connection')
  const handToTls = (raw: Socket) => {
    for (const listener of inner) listener.call(server, raw)
  }
  server.on('connection', function acceptGate (raw: Socket) {
    // Cheapest and stateless first: a peer outside --proxy-from spends no token of the rate
    // and no handshake slot (else anyone reaching the port past the balancer could empty them).
    if (proxy !== null && !proxy.sourceAllowed(raw)) return
    // (a connection refused for the handshakes in progress spends no token of the rate)
    if (maxHandshakes > 0 && handshakes >= maxHandshakes) {
      refuse(deps, raw, 'too_many_handshakes', raw.remoteAddress, `${handshakes} TLS handshakes in progress, --max-handshakes ${maxHandshakes}`)
      return
    }
    if (rate !== null && !rate.take(performance.now())) {
      refuse(deps, raw, 'connect_rate_exceeded', raw.remoteAddress, `over --max-connect-rate ${rate.perSecond}/s`)
      return
    }
    // counted from here: the PROXY header's wait holds a slot as the TLS handshake after it does
    if (maxHandshakes > 0) handshakes++
    if (proxy === null) handToTls(raw)
    else proxy.readHeader(raw, handToTls, maxHandshakes > 0 ? ended : ignore)
  })
}

function refuse (deps: AcceptDeps, raw: Socket, reason: AcceptReason, remote: string | undefined, detail: string): void {
  // a reset: no FIN handshake and no TIME_WAIT kept on this side for a refused connection
  if (!raw.destroyed) raw.resetAndDestroy()
  deps.decisions.inc('accept.deny', reason)
  deps.audit.warn('accept.deny', reason, { remote, detail }, 'connection refused before TLS')
}

/** The PROXY header gate: one per server. */
interface ProxyGate {
  /** false (the connection refused or gone) when the peer is not a listed load balancer */
  sourceAllowed (raw: Socket): boolean
  /** read the header, then hand the socket to TLS; `refused` when it never gets there */
  readHeader (raw: Socket, handToTls: (raw: Socket) => void, refused: () => void): void
}

function proxyGate (config: Config, deps: AcceptDeps): ProxyGate {
  const allowed = new BlockList()
  const list = parseAddressList(config.proxyFrom ?? '')
  if (list.ok) for (const b of list.blocks) allowed.addSubnet(b.address, b.prefix, b.family)
  const timeoutMs = config.handshakeTimeout
  return {
    sourceAllowed (raw) {
      const peer = raw.remoteAddress
      // gone before it was accepted (a balancer's TCP check: connect, then reset): nothing to judge
      if (peer === undefined) { raw.destroy(); return false }
      if (allowed.check(peer, isIPv4(peer) ? 'ipv4' : 'ipv6')) return true
      refuse(deps, raw, 'proxy_source_denied', peer, 'not in --proxy-from')
      return false
    },
    readHeader (raw, handToTls, refused) {
      const peer = raw.remoteAddress
      let received: Buffer | null = null
      const reject = (reason: AcceptReason, detail: string) => { refused(); refuse(deps, raw, reason, peer, detail) }
      // an absolute deadline, not an idle timer: a peer trickling a byte at a time gets no longer
      const timer = setTimeout(() => {
        done()
        reject('proxy_header_timeout', `${received?.length ?? 0} bytes of a PROXY header in ${timeoutMs} ms`)
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        raw.off('data', onData)
        raw.off('close', onClose)
      }
      const onClose = () => {
        done()
        // a peer that leaves mid-header: nothing was accepted, the refusal is counted all the same
        if (received === null) reject('proxy_header_missing', 'closed before any byte')
        else reject('proxy_header_invalid', `closed after ${received.length} bytes of a partial PROXY header`)
      }
      const onData = (chunk: Buffer) => {
        received = received === null ? chunk : Buffer.concat([received, chunk])
        const scan = scanProxyHeader(received)
        if (scan.state === 'partial') return
        done()
        if (scan.state === 'missing') { reject('proxy_header_missing', scan.detail); return }
        if (scan.state === 'invalid') { reject('proxy_header_invalid', scan.detail); return }
        raw.pause()
        if (received.length > scan.length) raw.unshift(received.subarray(scan.length))
        // LOCAL (the balancer's own health check) and UNKNOWN: the peer's address stands
        if (scan.header.command === 'proxy') deps.addresses.relay(raw, scan.header.address)
        handToTls(raw)
      }
      raw.on('error', ignore)
      raw.on('data', onData)
      raw.on('close', onClose)
    },
  }
}
