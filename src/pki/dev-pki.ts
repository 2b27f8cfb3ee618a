// The dev/test PKI directory (`fleetgate pki init --out <dir>`). Its layout is
// a contract: the broker, the simulator and the attack catalogue read it.
import { X509Certificate } from 'node:crypto'
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fgError } from '../contract/errors.js'
import { sha256Hex, subjectPublicKeyInfo } from '../identity/index.js'
import { defaultPolicyPath, pinIssuerKeys } from '../policy/index.js'
import {
  DAY_MS, DEV_ORGANIZATION, caFromKeyPair, createIntermediateCa, createRogueCa, createRootCa, issueLeaf,
  type CaKind, type CaMaterial, type IssuedCertificate,
} from './profiles.js'
import { PRIVATE_DIR_MODE, ensureDir, readTextFile, writeCertificates, writePrivateKey, writeTextFile } from './pem.js'
import { readCaKeyPair } from './ca-key.js'
import { isVin, randomVins } from './vin.js'

export interface DevPkiManifest {
  readonly version: 1
  /** the sample vehicles, in order; vins[0] is also the rogue look-alike and the attack victim */
  readonly vins: readonly string[]
  /** CN of backend/cert.pem */
  readonly backend: string
  /** CN of monitor/cert.pem */
  readonly monitor: string
  /** CN of provisioner/cert.pem */
  readonly provisioner: string
  /** ISO 8601 UTC */
  readonly createdAt: string
}

export interface CertKeyPaths {
  /** PEM: leaf + the CA that issued it (a CA's own file: the CA alone) */
  readonly cert: string
  /** PKCS#8 PEM, mode 0600 */
  readonly key: string
}

export interface VehiclePaths extends CertKeyPaths {
  readonly vin: string
  readonly dir: string
  /** birth certificate chain: birth leaf + manufacturing CA */
  readonly birthCert: string
  readonly birthKey: string
}

export interface DevPkiPaths {
  readonly dir: string
  readonly manifest: string
  /** root-ca.pem / root-ca.key: the trust anchor (`serve --ca`) */
  readonly root: CertKeyPaths
  readonly issuing: CertKeyPaths
  readonly manufacturing: CertKeyPaths
  /** ca-bundle.pem: the root only */
  readonly caBundle: string
  /** policy.yaml: the shipped policy with each role also pinned by its CA's key (`issuerKey`) */
  readonly policy: string
  readonly broker: CertKeyPaths
  readonly vehicles: readonly VehiclePaths[]
  readonly backend: CertKeyPaths
  readonly monitor: CertKeyPaths
  readonly provisioner: CertKeyPaths
  readonly rogue: {
    /** rogue/ca.pem, rogue/ca.key */
    readonly ca: CertKeyPaths
    /** same subject as vins[0], issued by the rogue CA; chain = leaf + rogue CA */
    readonly vehicle: CertKeyPaths
  }
  readonly attack: {
    /** vehicle vins[1] (vins[0] with one vehicle), expired yesterday */
    readonly expired: CertKeyPaths
    /** vehicle vins[0], no EKU extension */
    readonly noEku: CertKeyPaths
    /** vehicle vins[0], EKU serverAuth only */
    readonly serverEku: CertKeyPaths
    /** a separate vehicle certificate for vins[0], to be revoked by attack runs */
    readonly victim: CertKeyPaths
    /**
     * fleet-backend certificates a car must not take as command signers: EKU serverAuth only, no EKU,
     * keyUsage keyEncipherment alone, two OUs (fleet-monitor first). Made since 0.2: a PKI made
     * earlier lacks them (loadPki does not require them; the attacks then say to re-make it).
     */
    /**
     * OU=fleet-backend, CN=<backend CN>-eu: its clientId is covered by the dev backend's `${subject.CN}*`
     * template, so the backend may try to take its session (optional like `signers`)
     */
    readonly prefixVictim: CertKeyPaths
    readonly signers: {
      readonly serverEku: CertKeyPaths
      readonly noEku: CertKeyPaths
      readonly keyEncipherment: CertKeyPaths
      readonly twoOus: CertKeyPaths
    }
  }
}

export interface LoadedPki {
  readonly dir: string
  readonly manifest: DevPkiManifest
  readonly paths: DevPkiPaths
}

export const DEV_BACKEND_CN = 'fleet-backend'
export const DEV_MONITOR_CN = 'fleet-monitor'
export const DEV_PROVISIONER_CN = 'fleet-provisioner'
export const DEV_BROKER_CN = 'fleetgate-broker'
export const MAX_DEV_VEHICLES = 10_000

function pair (dir: string, cert = 'cert.pem', key = 'key.pem'): CertKeyPaths {
  return { cert: join(dir, cert), key: join(dir, key) }
}

/** The paths of a dev PKI directory holding these VINs (pure: no I/O). */
export function devPkiPaths (dir: string, vins: readonly string[]): DevPkiPaths {
  return {
    dir,
    manifest: join(dir, 'manifest.json'),
    root: pair(dir, 'root-ca.pem', 'root-ca.key'),
    issuing: pair(dir, 'issuing-ca.pem', 'issuing-ca.key'),
    manufacturing: pair(dir, 'manufacturing-ca.pem', 'manufacturing-ca.key'),
    caBundle: join(dir, 'ca-bundle.pem'),
    policy: join(dir, 'policy.yaml'),
    broker: pair(join(dir, 'broker')),
    vehicles: vins.map((vin) => {
      const vdir = join(dir, 'vehicles', vin)
      return { vin, dir: vdir, ...pair(vdir), birthCert: join(vdir, 'birth-cert.pem'), birthKey: join(vdir, 'birth-key.pem') }
    }),
    backend: pair(join(dir, 'backend')),
    monitor: pair(join(dir, 'monitor')),
    provisioner: pair(join(dir, 'provisioner')),
    rogue: { ca: pair(join(dir, 'rogue'), 'ca.pem', 'ca.key'), vehicle: pair(join(dir, 'rogue', 'vehicle')) },
    attack: {
      expired: pair(join(dir, 'attack', 'expired')),
      noEku: pair(join(dir, 'attack', 'no-eku')),
      serverEku: pair(join(dir, 'attack', 'server-eku')),
      victim: pair(join(dir, 'attack', 'victim')),
      prefixVictim: pair(join(dir, 'attack', 'prefix-victim')),
      signers: {
        serverEku: pair(join(dir, 'attack', 'signer-server-eku')),
        noEku: pair(join(dir, 'attack', 'signer-no-eku')),
        keyEncipherment: pair(join(dir, 'attack', 'signer-key-encipherment')),
        twoOus: pair(join(dir, 'attack', 'signer-two-ous')),
      },
    },
  }
}

export interface InitDevPkiOptions {
  /** sample vehicles (operational + birth certificate each); default 3 */
  readonly vehicles?: number
  /** replace an existing PKI in outDir */
  readonly force?: boolean
  /** extra broker SAN entries (host names or IPs), beside localhost, 127.0.0.1, ::1 */
  readonly brokerNames?: readonly string[]
  /** called after each certificate: (done, total, what) */
  readonly onProgress?: (done: number, total: number, what: string) => void
}

function readManifestVins (path: string): string[] {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as { vins?: unknown }
    return Array.isArray(m.vins) ? m.vins.filter((v): v is string => typeof v === 'string' && isVin(v)) : []
  } catch {
    return []
  }
}

function writeCaFiles (paths: CertKeyPaths, ca: CaMaterial): void {
  writePrivateKey(paths.key, ca.key)
  writeCertificates(paths.cert, ca.certPem)
}

function writeLeafFiles (paths: CertKeyPaths, leaf: IssuedCertificate): void {
  if (leaf.keyPem !== null) writePrivateKey(paths.key, leaf.keyPem)
  writeCertificates(paths.cert, leaf.chainPem)
}

/**
 * Create the dev PKI in `outDir` (layout: devPkiPaths). Refuses to replace an
 * existing one (manifest.json or root-ca.key present) unless `force`.
 * Directories it creates are 0700, private keys 0600; manifest.json is
 * written last, so an interrupted run leaves no manifest.
 */
export async function initDevPki (outDir: string, opts: InitDevPkiOptions = {}): Promise<DevPkiManifest> {
  const count = opts.vehicles ?? 3
  if (!Number.isInteger(count) || count < 1 || count > MAX_DEV_VEHICLES) {
    throw fgError('FG_ERR_CONFIG_INVALID', `--vehicles ${String(count)}: must be an integer from 1 to ${MAX_DEV_VEHICLES}`)
  }
  const old = devPkiPaths(outDir, [])
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw fgError('FG_ERR_CONFIG_INVALID', `--out ${outDir}: not a directory`)
  for (const existing of [old.manifest, old.root.key]) {
    if (existsSync(existing) && opts.force !== true) {
      throw fgError('FG_ERR_PKI_EXISTS', `${outDir}: already holds a PKI (${existing}); use --force to replace it`)
    }
  }
  if (opts.force === true && existsSync(old.manifest)) {
    // drop the previous sample vehicles so no stale certificate from the old root survives
    for (const v of devPkiPaths(outDir, readManifestVins(old.manifest)).vehicles) rmSync(v.dir, { recursive: true, force: true })
    rmSync(old.manifest, { force: true })
  }

  const vins = randomVins(count)
  const p = devPkiPaths(outDir, vins)
  const total = 4 + 1 + 2 * count + 3 + 1 + 4 + 4 + 1 + 1
  let done = 0
  const step = (what: string): void => { done++; opts.onProgress?.(done, total, what) }

  ensureDir(outDir, PRIVATE_DIR_MODE)
  for (const d of [p.broker.cert, p.backend.cert, p.monitor.cert, p.provisioner.cert, p.rogue.vehicle.cert,
    p.attack.expired.cert, p.attack.noEku.cert, p.attack.serverEku.cert, p.attack.victim.cert,
    ...Object.values(p.attack.signers).map((s) => s.cert), p.attack.prefixVictim.cert,
    ...p.vehicles.map((v) => v.cert)]) {
    ensureDir(join(d, '..'), PRIVATE_DIR_MODE)
  }

  const root = await createRootCa()
  writeCaFiles(p.root, root)
  writeCertificates(p.caBundle, root.certPem)
  step('root CA')
  const issuing = await createIntermediateCa(root, 'issuing')
  writeCaFiles(p.issuing, issuing)
  step('issuing CA')
  const manufacturing = await createIntermediateCa(root, 'manufacturing')
  writeCaFiles(p.manufacturing, manufacturing)
  step('manufacturing CA')
  const rogue = await createRogueCa()
  writeCaFiles(p.rogue.ca, rogue)
  step('rogue CA')

  writeLeafFiles(p.broker, await issueLeaf(issuing, 'server', DEV_BROKER_CN, { san: opts.brokerNames ?? [] }))
  step('broker')

  for (const v of p.vehicles) {
    writeLeafFiles(v, await issueLeaf(issuing, 'vehicle', v.vin))
    step(`vehicle ${v.vin}`)
    writeLeafFiles({ cert: v.birthCert, key: v.birthKey }, await issueLeaf(manufacturing, 'factory', v.vin))
    step(`birth certificate ${v.vin}`)
  }

  writeLeafFiles(p.backend, await issueLeaf(issuing, 'fleet-backend', DEV_BACKEND_CN))
  step('fleet backend')
  writeLeafFiles(p.monitor, await issueLeaf(issuing, 'fleet-monitor', DEV_MONITOR_CN))
  step('fleet monitor')
  writeLeafFiles(p.provisioner, await issueLeaf(issuing, 'provisioner', DEV_PROVISIONER_CN))
  step('provisioner')

  const first = vins[0] as string
  writeLeafFiles(p.rogue.vehicle, await issueLeaf(rogue, 'vehicle', first))
  step('rogue vehicle')

  const yesterday = new Date(Date.now() - DAY_MS)
  writeLeafFiles(p.attack.expired, await issueLeaf(issuing, 'vehicle', vins[1] ?? first, { notAfter: yesterday }))
  step('attack: expired')
  writeLeafFiles(p.attack.noEku, await issueLeaf(issuing, 'vehicle', first, { eku: null }))
  step('attack: no EKU')
  writeLeafFiles(p.attack.serverEku, await issueLeaf(issuing, 'vehicle', first, { eku: ['serverAuth'] }))
  step('attack: serverAuth EKU')
  writeLeafFiles(p.attack.victim, await issueLeaf(issuing, 'vehicle', first))
  step('attack: victim')
  const signers = p.attack.signers
  writeLeafFiles(signers.serverEku, await issueLeaf(issuing, 'fleet-backend', 'signer-server-eku', { eku: ['serverAuth'] }))
  step('attack: signer with serverAuth EKU')
  writeLeafFiles(signers.noEku, await issueLeaf(issuing, 'fleet-backend', 'signer-no-eku', { eku: null }))
  step('attack: signer without EKU')
  writeLeafFiles(signers.keyEncipherment, await issueLeaf(issuing, 'fleet-backend', 'signer-key-encipherment', { keyUsage: ['keyEncipherment'] }))
  step('attack: signer with keyUsage keyEncipherment')
  writeLeafFiles(signers.twoOus, await issueLeaf(issuing, 'fleet-backend', 'signer-two-ous', {
    subject: [['O', DEV_ORGANIZATION], ['OU', 'fleet-backend'], ['OU', 'fleet-monitor'], ['CN', 'signer-two-ous']],
  }))
  step('attack: signer with two OUs')
  writeLeafFiles(p.attack.prefixVictim, await issueLeaf(issuing, 'fleet-backend', `${DEV_BACKEND_CN}-eu`))
  step('attack: prefix victim')

  const manifest: DevPkiManifest = {
    version: 1,
    vins,
    backend: DEV_BACKEND_CN,
    monitor: DEV_MONITOR_CN,
    provisioner: DEV_PROVISIONER_CN,
    createdAt: new Date().toISOString(),
  }
  writeDevPolicy(outDir)
  step('policy')
  writeTextFile(p.manifest, JSON.stringify(manifest, null, 2) + '\n')
  return manifest
}

/** lowercase hex SHA-256 of a CA certificate's SubjectPublicKeyInfo (what `issuerKey` pins) */
export function spkiSha256 (certPem: string): string {
  return sha256Hex(subjectPublicKeyInfo(new X509Certificate(certPem).raw))
}

/**
 * Write <dir>/policy.yaml: the shipped policy, its roles pinned by the keys of
 * this PKI's issuing and manufacturing CAs as well as by their names (a second
 * trusted CA with the same name gets no role). Returns its path.
 */
export function writeDevPolicy (dir: string): string {
  const p = devPkiPaths(dir, [])
  const keys = new Map<string, string>()
  for (const ca of [p.issuing.cert, p.manufacturing.cert]) {
    const pem = readTextFile(ca)
    keys.set(new X509Certificate(pem).subject.match(/^CN=(.*)$/m)?.[1] ?? '', spkiSha256(pem))
  }
  const text = '# Written by fleetgate pki init for this PKI: the shipped policy, each role pinned\n' +
    '# by its CA\'s key (issuerKey, SHA-256 of the SubjectPublicKeyInfo) as well as by its name.\n' +
    pinIssuerKeys(readTextFile(defaultPolicyPath), keys, p.policy)
  writeTextFile(p.policy, text)
  return p.policy
}

/** <dir>/policy.yaml, written first for a dev PKI made before it existed. */
export function ensureDevPolicy (dir: string): string {
  const path = devPkiPaths(dir, []).policy
  return existsSync(path) ? path : writeDevPolicy(dir)
}

function invalid (path: string, problem: string): never {
  throw fgError('FG_ERR_PKI_INVALID', `${path}: ${problem}`)
}

/** parse and check a manifest.json text */
export function parseManifest (text: string, source: string): DevPkiManifest {
  let m: unknown
  try {
    m = JSON.parse(text)
  } catch {
    invalid(source, 'not valid JSON')
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) invalid(source, 'not a JSON object')
  const o = m as Record<string, unknown>
  if (o.version !== 1) invalid(source, `unsupported version ${JSON.stringify(o.version)} (expected 1)`)
  if (!Array.isArray(o.vins) || o.vins.length === 0) invalid(source, '"vins" must be a non-empty array')
  for (const v of o.vins as unknown[]) {
    if (typeof v !== 'string' || !isVin(v)) invalid(source, `"vins" holds ${JSON.stringify(v)}, not a VIN`)
  }
  for (const k of ['backend', 'monitor', 'provisioner', 'createdAt'] as const) {
    if (typeof o[k] !== 'string' || o[k] === '') invalid(source, `"${k}" must be a non-empty string`)
  }
  return {
    version: 1,
    vins: [...(o.vins as string[])],
    backend: o.backend as string,
    monitor: o.monitor as string,
    provisioner: o.provisioner as string,
    createdAt: o.createdAt as string,
  }
}

/**
 * Read a dev PKI directory: its manifest and the paths of every file, all of
 * which must exist (FG_ERR_PKI_INVALID naming the first one missing).
 */
export function loadPki (dir: string): LoadedPki {
  const manifestPath = devPkiPaths(dir, []).manifest
  if (!existsSync(manifestPath)) invalid(dir, 'not a fleetgate PKI directory (no manifest.json; create one with `fleetgate pki init --out <dir>`)')
  const manifest = parseManifest(readTextFile(manifestPath), manifestPath)
  const paths = devPkiPaths(dir, manifest.vins)
  const files = [
    paths.root.cert, paths.root.key, paths.issuing.cert, paths.issuing.key, paths.manufacturing.cert, paths.manufacturing.key,
    paths.caBundle, paths.broker.cert, paths.broker.key,
    ...paths.vehicles.flatMap((v) => [v.cert, v.key, v.birthCert, v.birthKey]),
    paths.backend.cert, paths.backend.key, paths.monitor.cert, paths.monitor.key, paths.provisioner.cert, paths.provisioner.key,
    paths.rogue.ca.cert, paths.rogue.ca.key, paths.rogue.vehicle.cert, paths.rogue.vehicle.key,
    ...[paths.attack.expired, paths.attack.noEku, paths.attack.serverEku, paths.attack.victim].flatMap((a) => [a.cert, a.key]),
  ]
  for (const f of files) if (!existsSync(f)) invalid(f, 'missing (the PKI directory is incomplete)')
  return { dir, manifest, paths }
}

/**
 * One CA of a dev PKI directory, ready to issue: `root`, `issuing` or
 * `manufacturing` (<dir>/<kind>-ca.pem and .key). Checks that the key
 * matches the certificate.
 */
export async function loadCa (dir: string, kind: CaKind): Promise<CaMaterial> {
  const files = devPkiPaths(dir, [])[kind]
  return await loadCaFiles(files.cert, files.key)
}

/** A CA from any certificate and key files (e.g. the provisioner's --issuer-cert/--issuer-key; SEC1 or PKCS#8 key) */
export async function loadCaFiles (certPath: string, keyPath: string): Promise<CaMaterial> {
  return await caFromKeyPair(readCaKeyPair(certPath, keyPath))
}

