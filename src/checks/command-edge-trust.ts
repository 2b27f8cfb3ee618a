// The broker's command trust: the fleet root(s) of its --ca bundle, and as the
// fleet issuing CA the one that issued the broker's own certificate (--cert
// chain, second certificate), as a car uses its own. Only when --cert holds no
// CA certificate, the CA certificates of the --ca bundle that a root signed. Pure.
import { commandTrust, type CommandTrust } from '../commands/index.js'
import { parsePemCertificates } from '../pki/pem.js'

export function edgeCommandTrust (caBundleDer: readonly Uint8Array[], serverChainPem: string): CommandTrust {
  const own = parsePemCertificates(serverChainPem, '--cert').slice(1)
  return commandTrust(caBundleDer, own.length > 0 ? own : caBundleDer)
}
