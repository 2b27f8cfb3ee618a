// The extendedKeyUsage OIDs fleetgate reads or writes (RFC 5280 4.2.1.12,
// RFC 9336), in one place: the connect check (clientAuth), the signed-command
// signer check (clientAuth or documentSigning), the dev PKI's profiles and the
// provisioner's template. Here, below pki, because the identity check needs it.

/** the EKU names `pki issue --eku` and the dev PKI's role profiles take */
export const EKU_OIDS = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const

/** id-kp-clientAuth: every client certificate fleetgate admits holds it */
export const EKU_CLIENT_AUTH = EKU_OIDS.clientAuth

/** RFC 9336 id-kp-documentSigning: a certificate made for signing commands only, accepted beside clientAuth */
export const EKU_DOCUMENT_SIGNING = '1.3.6.1.5.5.7.3.36'
