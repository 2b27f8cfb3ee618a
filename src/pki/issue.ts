// `fleetgate pki issue --role R (--cn NAME | --count N) [--csr file] --out DIR`:
// certificates from a dev PKI directory's CAs, one directory per CN.
import { join } from 'node:path'
import { fgError } from '../contract/errors.js'
import { ROLE_PROFILES, isPkiRole, issueFromCsr, issueLeaf, PKI_ROLES, type CaMaterial, type IssuedCertificate, type PkiRole } from './profiles.js'
import { loadCa } from './dev-pki.js'
import { PRIVATE_DIR_MODE, ensureDir, readTextFile, writeCertificates, writePrivateKey } from './pem.js'
import { isVin, randomVins } from './vin.js'

export const MAX_ISSUE_COUNT = 1_000_000

export interface IssueCertificatesOptions {
  /** a dev PKI directory (fleetgate pki init): its issuing and manufacturing CAs sign */
  readonly pkiDir: string
  readonly role: PkiRole | string
  /** one certificate with this CN (exclusive with count) */
  readonly cn?: string
  /** this many certificates: random VINs for vehicle/factory, `<role>-<n>` otherwise */
  readonly count?: number
  /** a PKCS#10 CSR file: certify its public key (no key.pem is written); CN: cn or the CSR's */
  readonly csrPath?: string
  readonly outDir: string
  /** default: the role's (1 year; factory 10 years) */
  readonly lifetimeMs?: number
  /** extra SAN entries (server: beside localhost, 127.0.0.1, ::1) */
  readonly san?: readonly string[]
  /** called after each certificate */
  readonly onProgress?: (done: number, total: number) => void
}

export interface IssuedFiles {
  readonly commonName: string
  readonly dir: string
  /** <dir>/cert.pem: leaf + issuing CA */
  readonly cert: string
  /** <dir>/key.pem (0600); null when the key came from a CSR */
  readonly key: string | null
  readonly serial: string
  readonly fingerprint: string
  readonly notAfter: Date
}

export interface IssueCertificatesResult {
  readonly role: PkiRole
  readonly outDir: string
  /** CN of the issuing CA */
  readonly issuer: string
  readonly issued: readonly IssuedFiles[]
}

// a CN becomes a directory name: no separators, no wildcards, no control characters
// eslint-disable-next-line no-control-regex
const UNSAFE_CN = /[+#/\\\u0000-\u001f\u007f]/

function checkCommonName (role: PkiRole, cn: string, flag: string): void {
  if (cn === '' || cn === '.' || cn === '..' || UNSAFE_CN.test(cn)) {
    throw fgError('FG_ERR_CONFIG_INVALID', `${flag} ${JSON.stringify(cn)}: not usable as a CN (empty, . or .., or holds + # / \\ or a control character)`)
  }
  if (cn.length > 64) throw fgError('FG_ERR_CONFIG_INVALID', `${flag} ${JSON.stringify(cn)}: longer than 64 characters`)
  if (ROLE_PROFILES[role].cnIsVin && !isVin(cn)) {
    throw fgError('FG_ERR_CONFIG_INVALID', `${flag} ${JSON.stringify(cn)}: not a VIN (17 characters of A-HJ-NPR-Z0-9) as role ${role} requires`)
  }
}

function write (outDir: string, leaf: IssuedCertificate): IssuedFiles {
  const dir = join(outDir, leaf.commonName)
  ensureDir(dir, PRIVATE_DIR_MODE)
  const cert = join(dir, 'cert.pem')
  let key: string | null = null
  if (leaf.keyPem !== null) {
    key = join(dir, 'key.pem')
    writePrivateKey(key, leaf.keyPem)
  }
  writeCertificates(cert, leaf.chainPem)
  return { commonName: leaf.commonName, dir, cert, key, serial: leaf.serial, fingerprint: leaf.fingerprint, notAfter: leaf.notAfter }
}

/**
 * Issue certificates of one role from a dev PKI directory into
 * `<outDir>/<cn>/cert.pem` (+ `key.pem`). factory certificates come from the
 * manufacturing CA, every other role from the issuing CA. The CA key is
 * imported once; keys are generated with node:crypto.
 */
export async function issueCertificates (opts: IssueCertificatesOptions): Promise<IssueCertificatesResult> {
  const { role } = opts
  if (!isPkiRole(role)) throw fgError('FG_ERR_CONFIG_INVALID', `--role ${JSON.stringify(role)}: must be one of ${PKI_ROLES.join(', ')}`)
  const hasCn = opts.cn !== undefined
  const hasCount = opts.count !== undefined
  if (hasCn && hasCount) throw fgError('FG_ERR_USAGE', '--cn and --count cannot be used together')
  if (hasCount) {
    const n = opts.count as number
    if (!Number.isInteger(n) || n < 1 || n > MAX_ISSUE_COUNT) throw fgError('FG_ERR_CONFIG_INVALID', `--count ${String(n)}: must be an integer from 1 to ${MAX_ISSUE_COUNT}`)
    if (opts.csrPath !== undefined && n !== 1) throw fgError('FG_ERR_USAGE', '--csr certifies one key: it cannot be used with --count above 1')
  }
  if (!hasCn && !hasCount && opts.csrPath === undefined) throw fgError('FG_ERR_CONFIG_MISSING', '--cn or --count is required')
  if (hasCn) checkCommonName(role, opts.cn as string, '--cn')

  const ca: CaMaterial = await loadCa(opts.pkiDir, ROLE_PROFILES[role].issuer)
  ensureDir(opts.outDir, PRIVATE_DIR_MODE)
  const common = {
    ...(opts.lifetimeMs === undefined ? {} : { lifetimeMs: opts.lifetimeMs }),
    ...(opts.san === undefined ? {} : { san: opts.san }),
  }

  if (opts.csrPath !== undefined) {
    const csrPath = opts.csrPath
    const text = readTextFile(csrPath)
    const leaf = await issueFromCsr(ca, role, text, {
      ...common,
      source: csrPath,
      ...(hasCn ? { commonName: opts.cn as string } : {}),
    })
    if (!hasCn) checkCommonName(role, leaf.commonName, `${csrPath}: CN`)
    const files = write(opts.outDir, leaf)
    opts.onProgress?.(1, 1)
    return { role, outDir: opts.outDir, issuer: ca.commonName, issued: [files] }
  }

  const names = hasCn
    ? [opts.cn as string]
    : ROLE_PROFILES[role].cnIsVin
      ? randomVins(opts.count as number)
      : Array.from({ length: opts.count as number }, (_, i) => `${role}-${i + 1}`)
  const total = names.length
  const issued: IssuedFiles[] = new Array(total)
  let done = 0
  // a few issuances in flight: webcrypto signs off the main thread while the
  // next certificate is being assembled
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++
      const leaf = await issueLeaf(ca, role, names[i] as string, common)
      issued[i] = write(opts.outDir, leaf)
      done++
      opts.onProgress?.(done, total)
    }
  }
  await Promise.all(Array.from({ length: Math.min(4, total) }, worker))
  return { role, outDir: opts.outDir, issuer: ca.commonName, issued }
}
