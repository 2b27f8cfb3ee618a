// --url mqtts://host:port -> MQTT.js TLS connection options (fleetgate's own clients:
// the simulator and the provisioner).
import { isIP } from 'node:net'
import { fgError } from '../contract/errors.js'

export interface BrokerAddress { readonly host: string; readonly port: number; readonly servername?: string }

export function parseBrokerUrl (url: string): BrokerAddress {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw fgError('FG_ERR_CONFIG_INVALID', `--url ${url}: not a URL (expected mqtts://host:port)`)
  }
  if (u.protocol !== 'mqtts:') throw fgError('FG_ERR_CONFIG_INVALID', `--url ${url}: must be mqtts:// (fleetgate speaks mutual TLS only)`)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  if (host === '') throw fgError('FG_ERR_CONFIG_INVALID', `--url ${url}: no host`)
  const port = u.port === '' ? 8883 : Number(u.port)
  // SNI takes host names only; an IP is checked against the certificate's IP SAN
  return isIP(host) === 0 ? { host, port, servername: host } : { host, port }
}
