// What the provisioner puts in a certificate. The sign options fill it in;
// nothing in it comes from the CSR except the public key (README
// "Provisioning and rotation": step-ca's provisioner sets the profile).

/** notBefore is this far in the past, for the car's clock skew */
export const BACKDATE_MS = 60_000

export interface CertificateTemplate {
  /** subject, most significant first: O (optional), OU, CN */
  organization: string | null
  organizationalUnit: string | null
  commonName: string | null
  /** EKU OIDs; never empty */
  extKeyUsage: string[]
  /** basicConstraints CA:false, critical; a provisioned leaf is never a CA */
  readonly isCa: false
  /** keyUsage digitalSignature, critical */
  readonly keyUsage: 'digitalSignature'
  lifetimeMs: number
  backdateMs: number
}

export function emptyTemplate (): CertificateTemplate {
  return {
    organization: null,
    organizationalUnit: null,
    commonName: null,
    extKeyUsage: [],
    isCa: false,
    keyUsage: 'digitalSignature',
    lifetimeMs: 0,
    backdateMs: BACKDATE_MS,
  }
}
