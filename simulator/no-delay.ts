// Commands and results are small request/response packets: turn Nagle off on
// the client's socket (tls.connect ignores a noDelay option on Node 20), or a
// round trip waits for the peer's delayed ACK (~40 ms).
import type { MqttClient } from 'mqtt'

export function noDelay (client: MqttClient): void {
  const stream = client.stream as unknown as { setNoDelay?: (on: boolean) => void }
  stream.setNoDelay?.(true)
}
