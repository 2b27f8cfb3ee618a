// Certificate profiles of the fleet PKI (README "Certificate profile"):
// root -> issuing CA -> vehicle / backend / monitor / provisioner / broker,
// root -> manufacturing CA -> factory (birth) certificates. ECDSA P-256 keys
// (node:crypto), certificates built with @peculiar/x509. Dev/test tooling: not
// a hot path.
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto'
import { isIP } from 'node:net'
import { x509 } from './x509.js'
import { fgError } from '../contract/errors.js'
import { derToPem, parsePemCsr, privateKeyToPem } from './pem.js'
import { caCurveOf, checkCaKeyPair, randomSerial, type CaKeyPair } from './ca-key.js'
import { keyIdentifier } from './key-id.js'
import { generateKey, isP256 } from './keys.js'
import { EKU_OIDS, serialHex, sha256Hex } from '../identity/index.js'

export type PkiRole = 'vehicle' | 'fleet-backend' | 'fleet-monitor' | 'provisioner' | 'factory' | 'server' | 'phone'
export const PKI_ROLES: readonly PkiRole[] = ['vehicle', 'fleet-backend', 'fleet-monitor', 'provisioner', 'factory', 'server', 'phone']

export function isPkiRole (value: string): value is PkiRole {
  return (PKI_ROLES as readonly string[]).includes(value)
}

/** CA subject CNs; the shipped policy pins roles to these exact values */
export const CA_COMMON_NAMES = {
  root: 'fleetgate Root CA',
  issuing: 'fleetgate Issuing CA',
  manufacturing: 'fleetgate Manufacturing CA',
  rogue: 'fleetgate Rogue CA',
} as const

/** O= of every subject the dev PKI makes */
export const DEV_ORGANIZATION = 'fleetgate dev'

export const MINUTE_MS = 60_000
export const DAY_MS = 86_400_000
export const YEAR_MS = 365 * DAY_MS
/** notBefore is set this far in the past, for clock skew */
export const BACKDATE_MS = MINUTE_MS

export type CaKind = 'root' | 'issuing' | 'manufacturing'

export interface RoleProfile {
  /** OU= of the subject; null: none */
  readonly ou: string | null
  readonly eku: keyof typeof EKU_OIDS
  /** the dev CA that issues this role */
  readonly issuer: 'issuing' | 'manufacturing'
  readonly lifetimeMs: number
  /** the CN is a VIN */
  readonly cnIsVin: boolean
}

export const ROLE_PROFILES: Readonly<Record<PkiRole, RoleProfile>> = {
  vehicle: { ou: 'vehicle', eku: 'clientAuth', issuer: 'issuing', lifetimeMs: YEAR_MS, cnIsVin: true },
  'fleet-backend': { ou: 'fleet-backend', eku: 'clientAuth', issuer: 'issuing', lifetimeMs: YEAR_MS, cnIsVin: false },
  'fleet-monitor': { ou: 'fleet-monitor', eku: 'clientAuth', issuer: 'issuing', lifetimeMs: YEAR_MS, cnIsVin: false },
  provisioner: { ou: 'provisioner', eku: 'clientAuth', issuer: 'issuing', lifetimeMs: YEAR_MS, cnIsVin: false },
  factory: { ou: 'factory', eku: 'clientAuth', issuer: 'manufacturing', lifetimeMs: 10 * YEAR_MS, cnIsVin: true },
  server: { ou: null, eku: 'serverAuth', issuer: 'issuing', lifetimeMs: YEAR_MS, cnIsVin: false },
  // a user's phone app: reaches command topics; its authority over a car is only the car's key list
  phone: { ou: 'phone', eku: 'clientAuth', issuer: 'issuing', lifetimeMs: YEAR_MS, cnIsVin: false },
}

/** SAN entries every server certificate carries */
export const SERVER_DEFAULT_SAN: readonly string[] = ['localhost', '127.0.0.1', '::1']

const CA_LIFETIME_MS: Readonly<Record<CaKind, number>> = {
  root: 20 * YEAR_MS,
  issuing: 10 * YEAR_MS,
  manufacturing: 15 * YEAR_MS,
}

/** one subject attribute: [short name or dotted OID, value], e.g. ['CN', '1HGCM...'] */
export type SubjectAttribute = readonly [type: string, value: string]
/**
 * A subject in order (most significant first). Each attribute is its own RDN;
 * an array of attributes is one multi-valued RDN (`CN=a+OU=b`). Values are
 * taken verbatim (no RFC 4514 unescaping, no `#hex`), so test material may
 * hold `+`, `#`, `/` or control characters.
 */
export type SubjectSpec = ReadonlyArray<SubjectAttribute | readonly SubjectAttribute[]>

const ATTRIBUTE_OIDS: Readonly<Record<string, string>> = {
  CN: '2.5.4.3', OU: '2.5.4.11', O: '2.5.4.10', C: '2.5.4.6', L: '2.5.4.7', ST: '2.5.4.8',
  serialNumber: '2.5.4.5', street: '2.5.4.9', title: '2.5.4.12', SN: '2.5.4.4', GN: '2.5.4.42',
  emailAddress: '1.2.840.113549.1.9.1', DC: '0.9.2342.19200300.100.1.25', UID: '0.9.2342.19200300.100.1.1',
}
const IA5_ATTRIBUTES = new Set(['1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25'])
const PRINTABLE_ATTRIBUTES = new Set(['2.5.4.6', '2.5.4.5'])

/** A CA that can issue: its certificate and private key */
export interface CaMaterial {
  readonly certPem: string
  /** the CA certificate, DER */
  readonly cert: Buffer
  readonly key: KeyObject
  /** the same key as a webcrypto key for signing */
  readonly signingKey: CryptoKey
  /** the CA's subject CN */
  readonly commonName: string
  /** subjectKeyIdentifier, lowercase hex (AKI of what it issues) */
  readonly keyId: string
  /** lowercase hex SHA-256 of the DER */
  readonly fingerprint: string
}

export interface IssuedCertificate {
  readonly role: PkiRole
  readonly commonName: string
  /** the leaf alone, PEM */
  readonly certPem: string
  /** the leaf, DER */
  readonly cert: Buffer
  /** leaf + issuing CA, PEM: what a client presents */
  readonly chainPem: string
  /** the private key; null when the public key came from a CSR */
  readonly key: KeyObject | null
  /** PKCS#8 PEM of `key` */
  readonly keyPem: string | null
  /** lowercase hex without leading zeros (README "Redis schema") */
  readonly serial: string
  readonly fingerprint: string
  readonly notBefore: Date
  readonly notAfter: Date
}

export interface ValidityOptions {
  /** default: now - 1 minute (or notAfter - lifetime, when only notAfter is given and lies in the past) */
  readonly notBefore?: Date
  /** default: now + lifetime (notBefore + lifetime when notBefore is given) */
  readonly notAfter?: Date
  /** default: the role's (1 year; factory 10 years; CAs 10-20 years) */
  readonly lifetimeMs?: number
}

export interface CaOptions extends ValidityOptions {
  /** subject CN; default by kind (CA_COMMON_NAMES) */
  readonly commonName?: string
  /** full subject override (the CN option is then ignored) */
  readonly subject?: SubjectSpec
  /** use this key pair instead of generating a P-256 one */
  readonly key?: KeyObject
  /** CRL URLs for a CRL Distribution Points extension (where the parent publishes the CRL covering this CA; none: no CDP) */
  readonly crl?: readonly string[]
}

export interface LeafOptions extends ValidityOptions {
  /** full subject override; default `O=fleetgate dev, OU=<role OU>, CN=<cn>` */
  readonly subject?: SubjectSpec
  /**
   * EKU names (`clientAuth`, `serverAuth`, ...) or dotted OIDs replacing the
   * role's; `null`: no EKU extension at all
   */
  readonly eku?: readonly string[] | null
  /** keyUsage bits replacing digitalSignature (test material); `null`: no keyUsage extension */
  readonly keyUsage?: ReadonlyArray<'digitalSignature' | 'keyEncipherment' | 'keyAgreement' | 'nonRepudiation'> | null
  /**
   * extra subjectAltName entries: IP addresses, `scheme://` URIs, `email:x@y`,
   * otherwise DNS names. Servers always get localhost, 127.0.0.1 and ::1 too.
   */
  readonly san?: readonly string[]
  /** certify this public key (a KeyObject, public or private) instead of generating a key pair */
  readonly publicKey?: KeyObject
  /** OCSP responder URLs for an Authority Information Access extension (none: no AIA) */
  readonly ocsp?: readonly string[]
  /** CRL URLs for a CRL Distribution Points extension, one distribution point each (none: no CDP) */
  readonly crl?: readonly string[]
}

// ---------------------------------------------------------------------------

function now (): number { return Date.now() }

function resolveValidity (opts: ValidityOptions, defaultLifetimeMs: number): { notBefore: Date; notAfter: Date } {
  const lifetime = opts.lifetimeMs ?? defaultLifetimeMs
  if (!Number.isFinite(lifetime) || lifetime <= 0) throw fgError('FG_ERR_CONFIG_INVALID', `lifetime ${String(opts.lifetimeMs)} ms: must be a positive number`)
  const t = now()
  let notBefore: Date
  let notAfter: Date
  if (opts.notBefore !== undefined) {
    notBefore = opts.notBefore
    notAfter = opts.notAfter ?? new Date(notBefore.getTime() + lifetime)
  } else if (opts.notAfter !== undefined) {
    notAfter = opts.notAfter
    notBefore = new Date(Math.min(t - BACKDATE_MS, notAfter.getTime() - lifetime))
  } else {
    notBefore = new Date(t - BACKDATE_MS)
    notAfter = new Date(t + lifetime)
  }
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) throw fgError('FG_ERR_CONFIG_INVALID', 'notBefore/notAfter: not a valid date')
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw fgError('FG_ERR_CONFIG_INVALID', `notAfter ${notAfter.toISOString()} is not after notBefore ${notBefore.toISOString()}`)
  }
  // X.509 times have one-second resolution: report what the certificate holds
  return { notBefore: new Date(Math.floor(notBefore.getTime() / 1000) * 1000), notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000) }
}

function attributeOid (type: string): string {
  if (/^\d+(\.\d+)+$/.test(type)) return type
  const oid = ATTRIBUTE_OIDS[type]
  if (oid === undefined) throw fgError('FG_ERR_CONFIG_INVALID', `subject attribute "${type}": unknown (use ${Object.keys(ATTRIBUTE_OIDS).join(', ')} or a dotted OID)`)
  return oid
}

/** SubjectSpec -> x509.Name, values verbatim as UTF8String (C, serialNumber: PrintableString; emailAddress, DC: IA5String) */
export function buildName (subject: SubjectSpec): x509.Name {
  const json: x509.JsonAttributeAndObjectValue[] = []
  for (const entry of subject) {
    const attrs = (Array.isArray(entry[0]) ? entry : [entry]) as readonly SubjectAttribute[]
    const rdn: x509.JsonAttributeAndObjectValue = {}
    for (const [type, value] of attrs) {
      const oid = attributeOid(type)
      const v: x509.JsonAttributeObject = IA5_ATTRIBUTES.has(oid)
        ? { ia5String: value }
        : PRINTABLE_ATTRIBUTES.has(oid) && x509.Name.isPrintableString(value) ? { printableString: value } : { utf8String: value }
      ;(rdn[oid] ??= []).push(v)
    }
    json.push(rdn)
  }
  return new x509.Name(json)
}

/** The default subject of a role: `O=fleetgate dev, OU=<ou>, CN=<cn>` (server: no OU) */
export function defaultSubject (role: PkiRole, commonName: string): SubjectSpec {
  const ou = ROLE_PROFILES[role].ou
  return ou === null
    ? [['O', DEV_ORGANIZATION], ['CN', commonName]]
    : [['O', DEV_ORGANIZATION], ['OU', ou], ['CN', commonName]]
}

function caSubject (commonName: string): SubjectSpec {
  return [['O', DEV_ORGANIZATION], ['CN', commonName]]
}

function ekuOid (name: string): string {
  if (/^\d+(\.\d+)+$/.test(name)) return name
  const oid = (EKU_OIDS as Record<string, string>)[name]
  if (oid === undefined) throw fgError('FG_ERR_CONFIG_INVALID', `eku "${name}": unknown (use ${Object.keys(EKU_OIDS).join(', ')} or a dotted OID)`)
  return oid
}

function sanEntries (values: readonly string[]): x509.JsonGeneralName[] {
  const seen = new Set<string>()
  const out: x509.JsonGeneralName[] = []
  for (const raw of values) {
    let entry: x509.JsonGeneralName
    if (isIP(raw) !== 0) entry = { type: 'ip', value: raw }
    else if (/^email:/i.test(raw)) entry = { type: 'email', value: raw.slice(6) }
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) entry = { type: 'url', value: raw }
    else entry = { type: 'dns', value: raw }
    const k = `${entry.type}:${entry.type === 'dns' ? entry.value.toLowerCase() : entry.value}`
    if (!seen.has(k)) { seen.add(k); out.push(entry) }
  }
  return out
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i

function spkiOf (key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return pub.export({ type: 'spki', format: 'der' })
}

async function toSigningKey (key: KeyObject, source: string): Promise<CryptoKey> {
  if (key.type !== 'private') throw fgError('FG_ERR_PEM_INVALID', `${source}: not a private key`)
  return await importSigningKey(key, caCurveOf(key, source).namedCurve)
}

async function importSigningKey (key: KeyObject, namedCurve: string): Promise<CryptoKey> {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' })
  return await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve }, false, ['sign']) as unknown as CryptoKey
}

interface SignParams {
  readonly subject: x509.Name
  /** issuer name; omitted: self-signed (issuer = subject) */
  readonly issuer?: x509.Name
  readonly spki: Buffer
  readonly signer: { readonly signingKey: CryptoKey; readonly hash: string }
  readonly notBefore: Date
  readonly notAfter: Date
  readonly extensions: x509.Extension[]
}

async function sign (p: SignParams): Promise<{ der: Buffer; serial: string }> {
  const serial = randomSerial()
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString('hex'),
    subject: p.subject,
    issuer: p.issuer ?? p.subject,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    publicKey: new Uint8Array(p.spki),
    signingKey: p.signer.signingKey,
    signingAlgorithm: { name: 'ECDSA', hash: p.signer.hash } as EcdsaParams,
    extensions: p.extensions,
  })
  return { der: Buffer.from(cert.rawData), serial: serialHex(serial) }
}

const signerHash = new WeakMap<CaMaterial, string>()

function signerOf (ca: CaMaterial): { signingKey: CryptoKey; hash: string } {
  return { signingKey: ca.signingKey, hash: signerHash.get(ca) ?? caCurveOf(ca.key, ca.commonName).hash }
}

const issuerNames = new WeakMap<CaMaterial, x509.Name>()

/** the CA's subject, parsed once per CaMaterial (bulk issuance reuses it) */
function issuerNameOf (ca: CaMaterial): x509.Name {
  let name = issuerNames.get(ca)
  if (name === undefined) {
    name = new x509.X509Certificate(new Uint8Array(ca.cert)).subjectName
    issuerNames.set(ca, name)
  }
  return name
}

async function makeCa (
  subject: SubjectSpec, key: KeyObject, parent: CaMaterial | null, pathLength: number | undefined, validity: { notBefore: Date; notAfter: Date }, crl?: readonly string[],
): Promise<CaMaterial> {
  const spki = spkiOf(key)
  const keyId = keyIdentifier(spki)
  const signingKey = await toSigningKey(key, 'CA key')
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    new x509.SubjectKeyIdentifierExtension(keyId),
  ]
  if (parent !== null) extensions.push(new x509.AuthorityKeyIdentifierExtension(parent.keyId))
  if (crl !== undefined && crl.length > 0) extensions.push(new x509.CRLDistributionPointsExtension([...crl], false))
  const name = buildName(subject)
  const { der } = await sign({
    subject: name,
    ...(parent === null ? {} : { issuer: issuerNameOf(parent) }),
    spki,
    signer: parent === null ? { signingKey, hash: caCurveOf(key, 'CA key').hash } : signerOf(parent),
    ...validity,
    extensions,
  })
  const ca: CaMaterial = {
    certPem: derToPem(der, 'CERTIFICATE'),
    cert: der,
    key,
    signingKey,
    commonName: name.getField('CN')[0] ?? '',
    keyId,
    fingerprint: sha256Hex(der),
  }
  signerHash.set(ca, caCurveOf(key, 'CA key').hash)
  return ca
}

/** A self-signed root CA: CA:true (critical), keyCertSign+cRLSign (critical), SKI. Default CN `fleetgate Root CA`, 20 years. */
export async function createRootCa (opts: CaOptions = {}): Promise<CaMaterial> {
  const subject = opts.subject ?? caSubject(opts.commonName ?? CA_COMMON_NAMES.root)
  return await makeCa(subject, opts.key ?? generateKey(), null, undefined, resolveValidity(opts, CA_LIFETIME_MS.root))
}

/** The rogue CA of attack tests: self-signed, unrelated key, CN `fleetgate Rogue CA` */
export async function createRogueCa (opts: CaOptions = {}): Promise<CaMaterial> {
  return await createRootCa({ commonName: CA_COMMON_NAMES.rogue, lifetimeMs: 10 * YEAR_MS, ...opts })
}

/**
 * An intermediate CA under `parent`: CA:true pathlen 0 (critical), keyCertSign+cRLSign
 * (critical), SKI, AKI. `kind` picks the default CN (issuing or manufacturing) and lifetime.
 */
export async function createIntermediateCa (parent: CaMaterial, kind: 'issuing' | 'manufacturing' = 'issuing', opts: CaOptions = {}): Promise<CaMaterial> {
  const subject = opts.subject ?? caSubject(opts.commonName ?? CA_COMMON_NAMES[kind])
  return await makeCa(subject, opts.key ?? generateKey(), parent, 0, resolveValidity(opts, CA_LIFETIME_MS[kind]), opts.crl)
}

/**
 * A CA from its certificate (PEM or DER) and private key (e.g. read with
 * readPrivateKey, PKCS#8 or SEC1). Checks that the certificate is a CA and
 * that the key is its own. `source` names them in errors.
 */
export async function caFromPem (cert: string | Uint8Array, key: KeyObject, source = 'CA'): Promise<CaMaterial> {
  return await caFromKeyPair(checkCaKeyPair(cert, key, source))
}

/** CaMaterial of a checked CA certificate and key (caFromPem, loadCaFiles) */
export async function caFromKeyPair (pair: CaKeyPair): Promise<CaMaterial> {
  const { der, key } = pair
  const signingKey = await importSigningKey(key, pair.curve.namedCurve)
  const parsed = new x509.X509Certificate(new Uint8Array(der))
  const ski = parsed.getExtension(x509.SubjectKeyIdentifierExtension)
  const ca: CaMaterial = {
    certPem: derToPem(der, 'CERTIFICATE'),
    cert: der,
    key,
    signingKey,
    commonName: parsed.subjectName.getField('CN')[0] ?? '',
    keyId: ski?.keyId ?? keyIdentifier(spkiOf(key)),
    fingerprint: sha256Hex(der),
  }
  signerHash.set(ca, pair.curve.hash)
  return ca
}

// Extensions are immutable DER holders: the constant ones are built once (bulk issuance)
const LEAF_BASIC_CONSTRAINTS = new x509.BasicConstraintsExtension(false, undefined, true)
const LEAF_KEY_USAGE = new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)
const ekuExtensions = new Map<string, x509.Extension>()
function ekuExtension (oids: string[]): x509.Extension {
  const k = oids.join(',')
  let ext = ekuExtensions.get(k)
  if (ext === undefined) {
    ext = new x509.ExtendedKeyUsageExtension(oids, false)
    if (ekuExtensions.size < 64) ekuExtensions.set(k, ext)
  }
  return ext
}
const akiExtensions = new WeakMap<CaMaterial, x509.Extension>()
function akiExtension (ca: CaMaterial): x509.Extension {
  let ext = akiExtensions.get(ca)
  if (ext === undefined) {
    ext = new x509.AuthorityKeyIdentifierExtension(ca.keyId)
    akiExtensions.set(ca, ext)
  }
  return ext
}

/**
 * Issue a leaf of `role` from `ca`: CA:false (critical), digitalSignature
 * (critical), the role's EKU, SKI, AKI, and for servers a SAN of localhost,
 * 127.0.0.1, ::1 (+ opts.san, + the CN when it is a host name). A new P-256
 * key pair unless opts.publicKey is given. Nothing is checked against the
 * role: test material may be deliberately wrong (opts.subject, opts.eku).
 */
export async function issueLeaf (ca: CaMaterial, role: PkiRole, commonName: string, opts: LeafOptions = {}): Promise<IssuedCertificate> {
  const profile = ROLE_PROFILES[role]
  const key = opts.publicKey === undefined ? generateKey() : null
  const spki = spkiOf(opts.publicKey ?? (key as KeyObject))
  const extensions: x509.Extension[] = [LEAF_BASIC_CONSTRAINTS]
  if (opts.keyUsage === undefined) extensions.push(LEAF_KEY_USAGE)
  else if (opts.keyUsage !== null) extensions.push(new x509.KeyUsagesExtension(opts.keyUsage.reduce((bits, u) => bits | x509.KeyUsageFlags[u], 0), true))
  const eku = opts.eku === undefined ? [profile.eku] : opts.eku
  if (eku !== null) {
    if (eku.length === 0) throw fgError('FG_ERR_CONFIG_INVALID', 'eku: an empty list is not encodable (use null for no EKU extension)')
    extensions.push(ekuExtension(eku.map(ekuOid)))
  }
  const san = [...(role === 'server' ? SERVER_DEFAULT_SAN : []), ...(opts.san ?? [])]
  if (role === 'server' && HOSTNAME.test(commonName)) san.push(commonName)
  if (san.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sanEntries(san), false))
  extensions.push(new x509.SubjectKeyIdentifierExtension(keyIdentifier(spki)))
  extensions.push(akiExtension(ca))
  if (opts.ocsp !== undefined && opts.ocsp.length > 0) extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: opts.ocsp.map((value) => new x509.GeneralName('url', value)) }, false))
  if (opts.crl !== undefined && opts.crl.length > 0) extensions.push(new x509.CRLDistributionPointsExtension([...opts.crl], false))
  const validity = resolveValidity(opts, profile.lifetimeMs)
  const { der, serial } = await sign({
    subject: buildName(opts.subject ?? defaultSubject(role, commonName)),
    issuer: issuerNameOf(ca),
    spki,
    signer: signerOf(ca),
    ...validity,
    extensions,
  })
  const certPem = derToPem(der, 'CERTIFICATE')
  return {
    role,
    commonName,
    certPem,
    cert: der,
    chainPem: certPem + ca.certPem,
    key,
    keyPem: key === null ? null : privateKeyToPem(key),
    serial,
    fingerprint: sha256Hex(der),
    ...validity,
  }
}

export interface ParsedCsr {
  /** the CSR's public key */
  readonly publicKey: KeyObject
  /** the CSR subject's first CN, if any */
  readonly commonName: string | undefined
}

/**
 * Parse a PKCS#10 CSR (PEM text or DER), verify its self-signature (proof of
 * possession) and require an ECDSA P-256 key. `source` names it in errors.
 */
export async function parseCsr (csr: string | Uint8Array, source = 'CSR'): Promise<ParsedCsr> {
  const der = typeof csr === 'string' ? parsePemCsr(csr, source) : Buffer.from(csr)
  let req: x509.Pkcs10CertificateRequest
  let publicKey: KeyObject
  try {
    req = new x509.Pkcs10CertificateRequest(new Uint8Array(der))
    publicKey = createPublicKey({ key: Buffer.from(req.publicKey.rawData), format: 'der', type: 'spki' })
  } catch (err) {
    throw fgError('FG_ERR_PEM_INVALID', `${source}: not a valid PKCS#10 certificate request`, err)
  }
  if (!isP256(publicKey)) {
    throw fgError('FG_ERR_PEM_INVALID', `${source}: the CSR's key is not ECDSA P-256`)
  }
  let ok: boolean
  try {
    ok = await req.verify()
  } catch (err) {
    throw fgError('FG_ERR_PEM_INVALID', `${source}: the CSR signature cannot be checked`, err)
  }
  if (!ok) throw fgError('FG_ERR_PEM_INVALID', `${source}: the CSR signature does not verify`)
  return { publicKey, commonName: req.subjectName.getField('CN')[0] }
}

export interface CsrLeafOptions extends Omit<LeafOptions, 'publicKey'> {
  /** CN of the certificate; default the CSR's CN */
  readonly commonName?: string
  /** names the CSR in errors (its file path) */
  readonly source?: string
}

/**
 * Issue a leaf for the public key of a CSR (its signature is verified first).
 * Only the CSR's key and CN are used: every other subject attribute and every
 * requested extension is ignored; the CN is opts.commonName or the CSR's.
 */
export async function issueFromCsr (ca: CaMaterial, role: PkiRole, csr: string | Uint8Array, opts: CsrLeafOptions = {}): Promise<IssuedCertificate> {
  const source = opts.source ?? 'CSR'
  const parsed = await parseCsr(csr, source)
  const commonName = opts.commonName ?? parsed.commonName
  if (commonName === undefined || commonName === '') throw fgError('FG_ERR_CONFIG_MISSING', `${source}: the CSR has no CN; give --cn`)
  const { commonName: _cn, source: _src, ...leafOpts } = opts
  return await issueLeaf(ca, role, commonName, { ...leafOpts, publicKey: parsed.publicKey })
}
