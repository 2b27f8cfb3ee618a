// A CA certificate and its private key, checked once: what the dev PKI
// (profiles.ts caFromPem, dev-pki.ts loadCaFiles) and the provisioner's fast
// issuer (provisioning/issuer.ts) both load. Also the serial a CA stamps on
// what it issues. node:crypto only: no @peculiar/x509 (the provisioner never
// loads it).
import { X509Certificate, randomBytes, type KeyObject } from 'node:crypto'
import { fgError, isFleetgateError } from '../contract/errors.js'
import { readPrivateKey, readTextFile, parsePemCertificates } from './pem.js'

/** what a CA key's curve means for signing */
export interface CaCurve {
  /** WebCrypto namedCurve */
  readonly namedCurve: string
  /** WebCrypto hash name */
  readonly hash: string
  /** node:crypto digest name */
  readonly digest: string
  /** the ecdsa-with-SHA* signature algorithm OID */
  readonly signatureOid: string
}

const CA_CURVES: Readonly<Record<string, CaCurve>> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256', digest: 'sha256', signatureOid: '1.2.840.10045.4.3.2' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384', digest: 'sha384', signatureOid: '1.2.840.10045.4.3.3' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512', digest: 'sha512', signatureOid: '1.2.840.10045.4.3.4' },
}

/** the curve of a CA key; FG_ERR_PEM_INVALID unless ECDSA P-256, P-384 or P-521 */
export function caCurveOf (key: KeyObject, source: string): CaCurve {
  const curve = key.asymmetricKeyType === 'ec' ? CA_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''] : undefined
  if (curve === undefined) throw fgError('FG_ERR_PEM_INVALID', `${source}: a CA key must be ECDSA P-256, P-384 or P-521`)
  return curve
}

/** A CA certificate and the private key that is its own */
export interface CaKeyPair {
  /** the CA certificate, DER */
  readonly der: Buffer
  readonly certificate: X509Certificate
  readonly key: KeyObject
  readonly curve: CaCurve
}

/**
 * Check a CA certificate (PEM text: its first certificate; or DER) and its
 * private key: the certificate is a CA, the key is a private ECDSA key on
 * P-256/384/521, and it is the certificate's. `source` names them in errors.
 */
export function checkCaKeyPair (cert: string | Uint8Array, key: KeyObject, source: string): CaKeyPair {
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert))
  } catch (err) {
    throw fgError('FG_ERR_PEM_INVALID', `${source}: the CA certificate cannot be parsed`, err)
  }
  if (!certificate.ca) throw fgError('FG_ERR_PKI_INVALID', `${source}: not a CA certificate (basicConstraints CA:false or absent)`)
  if (key.type !== 'private') throw fgError('FG_ERR_PEM_INVALID', `${source}: the CA key is not a private key`)
  const curve = caCurveOf(key, source)
  if (!certificate.checkPrivateKey(key)) throw fgError('FG_ERR_KEY_MISMATCH', `${source}: the private key does not match the CA certificate`)
  return { der: certificate.raw, certificate, key, curve }
}

/**
 * checkCaKeyPair on a CA certificate file (its first certificate) and key
 * file (PKCS#8 or SEC1 PEM). A key that is not the certificate's is
 * FG_ERR_KEY_MISMATCH naming both files, with their flags when given
 * (`--issuer-key k.pem: does not match --issuer-cert c.pem`).
 */
export function readCaKeyPair (certPath: string, keyPath: string, flags?: { readonly cert: string; readonly key: string }): CaKeyPair {
  const der = parsePemCertificates(readTextFile(certPath), certPath)[0]!
  const key = readPrivateKey(keyPath)
  try {
    return checkCaKeyPair(der, key, certPath)
  } catch (err) {
    if (isFleetgateError(err) && err.code === 'FG_ERR_KEY_MISMATCH') {
      const named = (flag: string | undefined, path: string) => flag === undefined ? path : `${flag} ${path}`
      throw fgError('FG_ERR_KEY_MISMATCH', `${named(flags?.key, keyPath)}: does not match ${named(flags?.cert, certPath)}`, err)
    }
    throw err
  }
}

/** 16 random bytes, top bit cleared and first byte non-zero: a positive, minimally encoded INTEGER (RFC 5280 4.1.2.2) */
export function randomSerial (): Buffer {
  const serial = randomBytes(16)
  serial[0] = (serial[0]! & 0x7f) || 0x01
  return serial
}
