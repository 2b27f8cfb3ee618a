// Bench certificates: a dev PKI plus many distinct vehicle certificates, made
// once and cached under the OS temp directory (issuing costs ~5 ms each).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { devPkiPaths, initDevPki, loadCa, issueLeaf, randomVins } from '../../src/testing.js'

export interface BenchVehicle { readonly vin: string; readonly cert: Buffer; readonly key: Buffer }
export interface BenchCerts {
  readonly dir: string
  readonly ca: Buffer
  readonly vehicles: readonly BenchVehicle[]
  readonly backend: { readonly cert: Buffer; readonly key: Buffer }
}

export async function benchCerts (count: number, log: (line: string) => void = () => {}): Promise<BenchCerts> {
  const dir = join(tmpdir(), 'fleetgate-bench-pki')
  const pki = devPkiPaths(dir, [])
  if (!existsSync(pki.manifest)) {
    log(`bench: making a PKI in ${dir}`)
    await initDevPki(dir, { vehicles: 1, force: true })
  }
  const fleetDir = join(dir, 'fleet')
  mkdirSync(fleetDir, { recursive: true })
  const index = join(fleetDir, 'index.json')
  let vins: string[] = existsSync(index) ? JSON.parse(readFileSync(index, 'utf8')) as string[] : []
  if (vins.length < count) {
    const ca = await loadCa(dir, 'issuing')
    const fresh = randomVins(count - vins.length + 50).filter((v) => !vins.includes(v)).slice(0, count - vins.length)
    const t0 = Date.now()
    for (const [i, vin] of fresh.entries()) {
      const leaf = await issueLeaf(ca, 'vehicle', vin)
      writeFileSync(join(fleetDir, vin + '.pem'), leaf.chainPem)
      writeFileSync(join(fleetDir, vin + '.key'), leaf.keyPem!, { mode: 0o600 })
      if ((i + 1) % 500 === 0) log(`bench: ${i + 1}/${fresh.length} vehicle certificates`)
    }
    vins = [...vins, ...fresh]
    writeFileSync(index, JSON.stringify(vins))
    log(`bench: ${fresh.length} vehicle certificates in ${Date.now() - t0} ms (cached in ${fleetDir})`)
  }
  return {
    dir,
    ca: readFileSync(pki.root.cert),
    vehicles: vins.slice(0, count).map((vin) => ({ vin, cert: readFileSync(join(fleetDir, vin + '.pem')), key: readFileSync(join(fleetDir, vin + '.key')) })),
    backend: { cert: readFileSync(pki.backend.cert), key: readFileSync(pki.backend.key) },
  }
}
