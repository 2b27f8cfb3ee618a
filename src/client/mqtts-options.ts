// The MQTT.js options fleetgate's own clients (the provisioner and every
// simulated client) start from: MQTT 3.1.1 over mutual TLS to the broker
// address, a clean session, no automatic reconnect. Each caller passes what is
// its own (clientId, keepalive, connectTimeout, a reconnect period, a
// persistent session, a Will), which wins over these.
import type { IClientOptions } from 'mqtt'
import type { BrokerAddress } from './broker-url.js'

/** PEM texts for one TLS client; cert/key absent: no client certificate */
export interface ClientTlsPem { readonly ca: string; readonly cert?: string; readonly key?: string }

export function mqttsOptions (addr: BrokerAddress, tls: ClientTlsPem, own: IClientOptions & { clientId: string }): IClientOptions {
  return {
    protocol: 'mqtts', host: addr.host, port: addr.port, servername: addr.servername,
    ca: tls.ca, cert: tls.cert, key: tls.key,
    protocolVersion: 4, clean: true, reconnectPeriod: 0,
    ...own,
  }
}
