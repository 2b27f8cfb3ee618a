// `fleetgate drain`: ask a running node (or the primary of its workers) to drain,
// through its metrics/admin port (POST /drain, taken from loopback only), then show
// the sessions left each second until the node has exited (its admin port closes).
import { request } from 'node:http'
import { newCommand, addOptions, durationFlag } from './program.js'
import { resolveOptions, type ConfigInput } from '../config/index.js'
import { fgError } from '../contract/errors.js'
import { DRAIN_HEADER } from '../metrics/index.js'

type DrainFlags = Pick<ConfigInput, 'metricsPort' | 'metricsHost'> & { wait?: boolean; waitTimeout?: string }

interface Answer { status: number; body: { ready?: boolean; checks?: { sessions?: number; workers?: number } } }

function call (method: 'GET' | 'POST', host: string, port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ method, host, port, path, timeout: 5000, headers: method === 'POST' ? { [DRAIN_HEADER]: '1' } : {} }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { text += d })
      res.on('end', () => {
        let body: Answer['body'] = {}
        try { body = JSON.parse(text) as Answer['body'] } catch { /* not JSON: the status says enough */ }
        resolve({ status: res.statusCode ?? 0, body })
      })
    })
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')))
    req.on('error', reject)
    req.end()
  })
}

export function drainCommand () {
  const cmd = newCommand('drain', 'drain a running node through its metrics/admin port (same as SIGTERM): it stops accepting, closes its sessions at its --drain-rate (Wills not published), then exits; run it on the node\'s host (the node takes POST /drain from loopback only)')
  addOptions(cmd, ['metricsPort', 'metricsHost'])
  cmd.option('--no-wait', 'return once the node has started draining')
  cmd.option('--wait-timeout <duration>', 'give up waiting for the node to exit after this (the drain goes on)', '15m')
  cmd.action(async (flags: DrainFlags) => {
    const o = resolveOptions(['metricsPort', 'metricsHost'], { metricsPort: flags.metricsPort, metricsHost: flags.metricsHost }, process.env)
    if (o.metricsPort === undefined) throw fgError('FG_ERR_CONFIG_MISSING', '--metrics-port is required: the node\'s metrics/admin port')
    const port = o.metricsPort
    const host = o.metricsHost === '0.0.0.0' ? '127.0.0.1' : o.metricsHost === '::' ? '::1' : o.metricsHost
    const waitMs = durationFlag('--wait-timeout', flags.waitTimeout ?? '15m', 'expected a duration like 90s or 15m')
    const where = `${host}:${port}`
    let answer: Answer
    try { answer = await call('POST', host, port, '/drain') } catch (err) {
      throw fgError('FG_ERR_ADMIN_UNREACHABLE', `--metrics-port ${port}: nothing answers on ${where} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
    }
    if (answer.status !== 202) throw fgError('FG_ERR_ADMIN_UNREACHABLE', `--metrics-port ${port}: ${where} answered ${answer.status} to POST /drain${answer.status === 403 ? ' (drain from the node\'s own host)' : ''}`)
    process.stderr.write(`fleetgate: node at ${where} draining (${answer.body.checks?.sessions ?? '?'} sessions)\n`)
    if (flags.wait === false) return
    const until = Date.now() + waitMs
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      let left: Answer
      try { left = await call('GET', host, port, '/readyz') } catch {
        process.stderr.write('fleetgate: node drained and exited\n')
        return
      }
      process.stderr.write(`fleetgate: ${left.body.checks?.sessions ?? '?'} sessions left\n`)
    }
    process.stderr.write(`fleetgate: still draining after ${flags.waitTimeout ?? '15m'}; stopped waiting\n`)
  })
  return cmd
}
