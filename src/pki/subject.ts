// A subject attribute of a node:crypto X509Certificate, read from node's
// one-RDN-per-line subject text (no ASN.1 parse: ~1 ms with asn1-schema).
import type { X509Certificate } from 'node:crypto'

/**
 * First value of a subject attribute (CN, OU, ...), or undefined. A
 * multi-valued RDN reads as "OU=a + CN=b" and never equals a role name or a
 * VIN (fails closed); read it only from a certificate whose chain holds.
 */
export function subjectAttribute (cert: X509Certificate, attr: string): string | undefined {
  for (const line of cert.subject.split('\n')) {
    if (line.startsWith(attr + '=')) return line.slice(attr.length + 1)
  }
  return undefined
}
