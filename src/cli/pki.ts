// `fleetgate pki dev|init|issue`: the dev PKI and bulk issuance.
import { existsSync } from 'node:fs'
import { Option } from 'commander'
import { addOptions, countFlag, durationFlag, newCommand } from './program.js'
import { progressPrinter } from './progress.js'
import { devPkiPaths, ensureDevPolicy, initDevPki, issueCertificates, loadPki, PKI_ROLES, type DevPkiManifest } from '../pki/index.js'
import { fgError } from '../contract/errors.js'
import { resolveOptions, SERVE_OPTIONS } from '../config/index.js'

function wholeNumber (flag: string, text: string, max: number): number {
  return countFlag(flag, text, max, `expected a whole number from 1 to ${max}`, true)
}

function manifestLine (m: DevPkiManifest): string {
  return `root, issuing and manufacturing CAs; broker; vehicles ${m.vins.join(', ')}; ${m.backend}, ${m.monitor}, ${m.provisioner}; rogue CA and attack/ material`
}

/**
 * `pki dev`: the dev PKI that `serve --dev` uses, in --dev-pki (the same flag,
 * variable and default as serve's). Made when absent; when present it is
 * checked (every file there) and reused, and a policy.yaml it lacks (a PKI from
 * an earlier release) is written. Only this command makes the dev PKI's keys.
 */
function pkiDevCommand () {
  const cmd = newCommand('dev', 'make the dev PKI that "fleetgate serve --dev" uses (in --dev-pki), or check and reuse the one there; prints what it did')
  addOptions(cmd, ['devPki'])
  return cmd
    .option('--force', 'replace an existing dev PKI (new CAs and keys)')
    .action(async (opts: { devPki?: string; force?: boolean }) => {
      const { devPki: dir } = resolveOptions(['devPki'], { devPki: opts.devPki }, process.env)
      const serve = 'fleetgate serve --dev' + (dir === SERVE_OPTIONS.devPki.default ? '' : ` --dev-pki ${dir}`)
      if (opts.force !== true && existsSync(devPkiPaths(dir, []).manifest)) {
        const { manifest } = loadPki(dir)
        const policyWas = existsSync(devPkiPaths(dir, []).policy)
        const policy = ensureDevPolicy(dir)
        process.stdout.write(`dev PKI in ${dir}: reused, made ${manifest.createdAt} (${manifestLine(manifest)}); ` +
          `policy ${policy}${policyWas ? '' : ' (written now)'}; serve it with: ${serve}\n`)
        return
      }
      const print = progressPrinter('pki dev')
      const manifest = await initDevPki(dir, { force: opts.force === true, onProgress: (d, t) => print(d, t) })
      process.stdout.write(`dev PKI in ${dir}: made (${manifestLine(manifest)}); policy ${devPkiPaths(dir, []).policy}; serve it with: ${serve}\n`)
    })
}

export function pkiCommand () {
  const pki = newCommand('pki', 'make a development PKI, or issue certificates from one')

  pki.addCommand(pkiDevCommand())

  pki.addCommand(newCommand('init', 'make a dev PKI: root, issuing and manufacturing CAs, broker, sample vehicles with birth certificates, backend, monitor, provisioner, a rogue CA and attack material')
    .requiredOption('--out <dir>', 'directory to create')
    .option('--vehicles <n>', 'number of sample vehicles', '3')
    .option('--broker-name <names...>', 'extra SAN entries for the broker certificate (beside localhost, 127.0.0.1, ::1)')
    .option('--force', 'replace an existing PKI in --out')
    .action(async (opts: { out: string; vehicles: string; brokerName?: string[]; force?: boolean }) => {
      const vehicles = wholeNumber('--vehicles', opts.vehicles, 10_000)
      const print = progressPrinter('pki init')
      const manifest = await initDevPki(opts.out, { vehicles, force: !!opts.force, brokerNames: opts.brokerName, onProgress: (d, t) => print(d, t) })
      process.stdout.write(`dev PKI in ${opts.out}: ${manifestLine(manifest)}\n`)
    }))

  pki.addCommand(newCommand('issue', 'issue certificates from a dev PKI (bulk with --count)')
    .addOption(new Option('--role <role>', 'certificate profile').choices(PKI_ROLES as string[]).makeOptionMandatory())
    .option('--cn <name>', 'subject CN (a VIN for vehicle and factory)')
    .option('--count <n>', 'issue this many (random VINs for vehicle/factory)')
    .option('--csr <file>', 'certify the public key of this PKCS#10 CSR (no private key is written)')
    .requiredOption('--out <dir>', 'output directory: <out>/<cn>/cert.pem and key.pem')
    .option('--pki <dir>', 'the dev PKI whose CAs sign', 'certs/dev')
    .option('--lifetime <duration>', 'certificate lifetime (e.g. 30d, 12h); default: the role\'s')
    .action(async (opts: { role: string; cn?: string; count?: string; csr?: string; out: string; pki: string; lifetime?: string }) => {
      if ((opts.cn === undefined) === (opts.count === undefined)) throw fgError('FG_ERR_USAGE', 'give exactly one of --cn <name> or --count <n>')
      const count = opts.count === undefined ? undefined : wholeNumber('--count', opts.count, 1_000_000)
      if (opts.csr && count !== undefined && count > 1) throw fgError('FG_ERR_USAGE', '--csr certifies one key: use it with --cn, or --count 1')
      const lifetimeMs = opts.lifetime === undefined ? undefined : durationFlag('--lifetime', opts.lifetime, 'expected a duration like 30d or 12h', (ms) => ms > 0)
      const print = progressPrinter('pki issue')
      const result = await issueCertificates({ pkiDir: opts.pki, role: opts.role, cn: opts.cn, count, csrPath: opts.csr, outDir: opts.out, lifetimeMs, onProgress: print })
      if (result.issued.length === 1) {
        const f = result.issued[0]!
        process.stdout.write(`issued ${result.role} CN=${f.commonName} serial ${f.serial} by ${result.issuer}: ${f.cert}${f.key ? ', ' + f.key : ''}\n`)
      } else {
        process.stdout.write(`issued ${result.issued.length} ${result.role} certificates by ${result.issuer} in ${result.outDir}\n`)
      }
    }))
  return pki
}
