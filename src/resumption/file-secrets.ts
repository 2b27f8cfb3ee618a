// --tls-ticket-keys FILE: one secret the operator gives every node (32 bytes or
// more, base64 or hex, one line). Epoch secrets are derived from it, so nodes
// agree with no link between them; replacing the file and sending SIGHUP changes
// every key (tickets made before then need a full handshake).
import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { fgError } from '../contract/errors.js'
import type { TicketSecretStore } from '../stores/index.js'

const MIN_BYTES = 32

/** the secret of a --tls-ticket-keys file; a bad file is one FG_ERR_CONFIG_INVALID line naming it */
export function readTicketSecretFile (path: string): Buffer {
  let text: string
  try {
    text = readFileSync(path, 'utf8').trim()
  } catch (err) {
    throw fgError('FG_ERR_CONFIG_INVALID', `--tls-ticket-keys ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  if (text.includes('\n')) throw fgError('FG_ERR_CONFIG_INVALID', `--tls-ticket-keys ${path}: expected one line (a secret in base64 or hex)`)
  const secret = /^[0-9a-fA-F]+$/.test(text) && text.length % 2 === 0
    ? Buffer.from(text, 'hex')
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : null
  if (secret === null) throw fgError('FG_ERR_CONFIG_INVALID', `--tls-ticket-keys ${path}: not base64 or hex`)
  if (secret.length < MIN_BYTES) throw fgError('FG_ERR_CONFIG_INVALID', `--tls-ticket-keys ${path}: ${secret.length} bytes, at least ${MIN_BYTES} needed (e.g. openssl rand -base64 48)`)
  return secret
}

export class FileTicketSecrets implements TicketSecretStore {
  readonly #path: string
  #secret: Buffer

  constructor (path: string) {
    this.#path = path
    this.#secret = readTicketSecretFile(path)
  }

  async secretFor (epoch: number): Promise<Buffer> {
    return createHmac('sha256', this.#secret).update(`fleetgate ticket epoch ${epoch}`).digest()
  }

  /** SIGHUP: the file again; a file that became unreadable keeps the old secret (the caller logs) */
  reload (): void {
    this.#secret = readTicketSecretFile(this.#path)
  }

  async close (): Promise<void> {}
}
