// The immutable view of a peer's certificate chain that every check reads (docs/ARCHITECTURE.md).
// Built once per connection by src/identity (cached by leaf fingerprint); nothing downstream re-parses.

/** Attribute short name (CN, OU, O, C, L, ST, ...) -> values in certificate order. */
export type NameAttributes = Readonly<Record<string, readonly string[]>>

export interface CaInfo {
  /** lowercase hex SHA-256 of the CA certificate's DER */
  readonly fingerprint: string
  /** lowercase hex, no leading zeros */
  readonly serial: string
  /** fingerprint of the certificate that issued this one; null for a self-signed root */
  readonly issuerFingerprint: string | null
  readonly subject: NameAttributes
  /**
   * lowercase hex SHA-256 of the CA's SubjectPublicKeyInfo DER: what a policy's
   * `issuerKey` pins (it survives a re-issued CA certificate with the same key).
   * Absent when unknown: then no `issuerKey` pin holds.
   */
  readonly spki?: string
  /** the CA certificate's validity (absent when unknown) */
  readonly notBefore?: Date
  readonly notAfter?: Date
}

export interface Identity {
  readonly subject: NameAttributes
  readonly issuer: NameAttributes
  readonly san: { readonly dns: readonly string[]; readonly uri: readonly string[]; readonly ip: readonly string[]; readonly email: readonly string[] }
  /** leaf serial, lowercase hex without leading zeros */
  readonly serial: string
  /** lowercase hex SHA-256 of the leaf DER */
  readonly fingerprint: string
  /** fingerprint of the issuing CA (chain[0]), null when the chain was not available */
  readonly issuerFingerprint: string | null
  /** CA certificates above the leaf, issuing CA first, root last */
  readonly chain: readonly CaInfo[]
  readonly notBefore: Date
  readonly notAfter: Date
  /** EKU OIDs; null when the leaf has no EKU extension */
  readonly eku: readonly string[] | null
  /** certificate policy OIDs of the leaf */
  readonly policies: readonly string[]
  /** OCSP responder URLs of the leaf's Authority Information Access (absent: none) */
  readonly ocsp?: readonly string[]
  /** URIs of the leaf's CRL Distribution Points (absent: none); followed with --crl-dp */
  readonly crl?: readonly string[]
}
