// --metrics-port: GET /metrics on 127.0.0.1 only (the figures name no client,
// but an operator decides who may scrape them: put a proxy in front).
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { fgError } from '../contract/errors.js'

export interface MetricsServer {
  readonly port: number
  close (): Promise<void>
}

export async function serveMetrics (registry: Registry, port: number, host = '127.0.0.1'): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    registry.metrics().then((body) => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(body)
    }, (err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err) + '\n')
    })
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
