// One PKI per test run (made at test time, as fastify's build-certificate.js),
// plus extra certificates for the refusal tests.
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initDevPki, loadCa, issueLeaf, DEV_ORGANIZATION, type SubjectSpec, type LeafOptions, type PkiRole, type DevPkiManifest } from '../../src/pki/index.js'

export interface TestPki {
  readonly dir: string
  readonly manifest: DevPkiManifest
  readonly vins: readonly string[]
  /** directory holding cert.pem (leaf + CA) and key.pem */
  vehicle (i: number): string
  readonly backend: string
  readonly monitor: string
  readonly provisioner: string
  /** extra certificates, made on demand: tests/<name>/ */
  extra (name: string, role: PkiRole, cn: string, opts?: LeafOptions & { from?: 'issuing' | 'manufacturing' }): Promise<string>
}

let shared: Promise<TestPki> | undefined

export function testPki (): Promise<TestPki> {
  shared ??= makeTestPki()
  return shared
}

async function makeTestPki (): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-pki-'))
  const manifest = await initDevPki(dir, { vehicles: 4 })
  const made = new Map<string, Promise<string>>()
  return {
    dir,
    manifest,
    vins: manifest.vins,
    vehicle: (i) => join(dir, 'vehicles', manifest.vins[i]!),
    backend: join(dir, 'backend'),
    monitor: join(dir, 'monitor'),
    provisioner: join(dir, 'provisioner'),
    extra (name, role, cn, opts = {}) {
      let p = made.get(name)
      if (!p) {
        p = (async () => {
          const ca = await loadCa(dir, opts.from ?? (role === 'factory' ? 'manufacturing' : 'issuing'))
          const leaf = await issueLeaf(ca, role, cn, opts)
          const out = join(dir, 'tests', name)
          mkdirSync(out, { recursive: true })
          writeFileSync(join(out, 'cert.pem'), leaf.chainPem)
          writeFileSync(join(out, 'key.pem'), leaf.keyPem!, { mode: 0o600 })
          return out
        })()
        made.set(name, p)
      }
      return p
    },
  }
}

export function subject (...attrs: Array<[string, string]>): SubjectSpec {
  return [['O', DEV_ORGANIZATION], ...attrs]
}
