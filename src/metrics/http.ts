// The metrics/admin port (--metrics-port, on --metrics-host, default 127.0.0.1):
//   GET /metrics   Prometheus text (the figures name no client)
//   GET /healthz   200 while the process answers (liveness)
//   GET /readyz    200 when the node should get new cars, else 503; JSON body naming each check
//   POST /drain    start draining (202); taken from a loopback address only, whatever the bind
//                  address: a load balancer may probe health from afar, only the host itself drains
// Who may scrape is the operator's call: put a proxy in front.
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { fgError } from '../contract/errors.js'

export interface MetricsServer {
  readonly port: number
  close (): Promise<void>
}

/** What /readyz reports: ready, and each check's state in words (listener, pki, store, draining, ...). */
export interface Readiness {
  readonly ready: boolean
  readonly checks: Readonly<Record<string, string | number | boolean>>
}

/** The admin side of the port; each part absent answers 404. */
export interface AdminHandlers {
  readiness? (): Readiness | Promise<Readiness>
  /** start draining; resolves with what the caller is told (the drain goes on after) */
  drain? (): Readiness | Promise<Readiness>
}

/** A metrics body: a Registry, or a function giving the text (the cluster view of several workers). */
export type MetricsSource = Registry | (() => Promise<{ contentType: string; body: string }>)

const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/
/**
 * POST /drain must carry this header: a browser on the node's host cannot send it in a
 * cross-origin form POST (a custom header needs a CORS preflight, which this server never
 * allows), so a web page cannot drain the node through the loopback rule.
 */
export const DRAIN_HEADER = 'x-fleetgate-drain'

function json (res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body) + '\n')
}

function failed (res: ServerResponse, err: unknown): void {
  if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String((err as Error)?.message ?? err) + '\n')
}

export async function serveMetrics (metrics: MetricsSource, port: number, host = '127.0.0.1', admin: AdminHandlers = {}): Promise<MetricsServer> {
  const body = typeof metrics === 'function'
    ? metrics
    : async () => ({ contentType: metrics.contentType, body: await metrics.metrics() })
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]
    const route = `${req.method} ${path}`
    if (route === 'GET /metrics') {
      body().then((m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body), (err: unknown) => failed(res, err))
    } else if (route === 'GET /healthz') {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('ok\n')
    } else if (route === 'GET /readyz' && admin.readiness) {
      Promise.resolve().then(() => admin.readiness!()).then((r) => json(res, r.ready ? 200 : 503, r), (err: unknown) => failed(res, err))
    } else if (route === 'POST /drain' && admin.drain) {
      if (!LOOPBACK.test(req.socket.remoteAddress ?? '')) { json(res, 403, { error: 'POST /drain is taken from a loopback address only' }); return }
      if (req.headers[DRAIN_HEADER] !== '1') { json(res, 403, { error: `POST /drain needs the header ${DRAIN_HEADER}: 1 (fleetgate drain sends it)` }); return }
      req.resume()
      Promise.resolve().then(() => admin.drain!()).then((r) => json(res, 202, r), (err: unknown) => failed(res, err))
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(fgError('FG_ERR_LISTEN', `--metrics-port ${port}: ${err.code ?? err.message}`))
    server.once('error', onError)
    server.listen(port, host, () => { server.off('error', onError); resolve() })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}
