// A simulated client's certificate material: read once from PEM files, checked,
// and turned into what MQTT.js (TLS) and the command signer/verifier need.
// A provisioning step may produce the same shape (CredentialsProvider).
import { X509Certificate } from 'node:crypto'
import {
  fgError, commandTrust, parsePemCertificates, parsePrivateKey, readFlagFile, subjectAttribute, SignerVerifier, type SigningKey, type CommandTrust,
} from '../src/index.js'

export interface ClientCredentials {
  /** PEM texts for TLS */
  readonly caPem: string
  readonly certPem: string
  readonly keyPem: string
  /** signing identity: key + chain DER (leaf, issuing CA) */
  readonly signing: SigningKey
  readonly cn: string
  readonly ou: string | undefined
  /** pinned root (--ca) + the issuing CA that issued this client's own certificate */
  readonly trust: CommandTrust
  readonly chains: SignerVerifier
}

/** Where a car's operational credentials come from: files today; a provisioning step may run first. */
export type CredentialsProvider = () => Promise<ClientCredentials>

export interface CredentialFiles { readonly ca: string; readonly cert: string; readonly key: string }

/** Credentials from PEM texts (`source` names them in errors). */
export function credentialsFromPem (caPem: string, certPem: string, keyPem: string, source: CredentialFiles): ClientCredentials {
  const caDers = parsePemCertificates(caPem, `--ca ${source.ca}`)
  const chain = parsePemCertificates(certPem, `--cert ${source.cert}`)
  const key = parsePrivateKey(keyPem, `--key ${source.key}`)
  const leaf = new X509Certificate(chain[0]!)
  if (!leaf.checkPrivateKey(key)) throw fgError('FG_ERR_KEY_MISMATCH', `--key ${source.key} does not match the certificate in --cert ${source.cert}`)
  if (chain.length < 2) throw fgError('FG_ERR_PKI_INVALID', `--cert ${source.cert}: must hold the leaf and the issuing CA`)
  const trust = commandTrust(caDers, chain.slice(1, 2))
  if (trust.roots.length === 0) throw fgError('FG_ERR_PKI_INVALID', `--ca ${source.ca}: holds no self-signed root CA`)
  if (trust.issuing.length === 0) throw fgError('FG_ERR_PKI_INVALID', `--cert ${source.cert}: its issuing CA does not chain to the root in --ca ${source.ca}`)
  const cn = subjectAttribute(leaf, 'CN')
  if (cn === undefined || cn === '') throw fgError('FG_ERR_PKI_INVALID', `--cert ${source.cert}: the certificate has no CN`)
  return {
    caPem, certPem, keyPem,
    signing: { key, chain: chain.slice(0, 2) },
    cn,
    ou: subjectAttribute(leaf, 'OU'),
    trust,
    chains: new SignerVerifier(trust),
  }
}

export function credentialsFromFiles (files: CredentialFiles): ClientCredentials {
  return credentialsFromPem(readFlagFile(files.ca, '--ca'), readFlagFile(files.cert, '--cert'), readFlagFile(files.key, '--key'), files)
}
