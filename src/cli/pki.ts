// `fleetgate pki init|issue`: the dev PKI and bulk issuance.
import { Option } from 'commander'
import { newCommand } from './program.js'
import { progressPrinter } from './progress.js'
import { initDevPki, issueCertificates, PKI_ROLES } from '../pki/index.js'
import { parseDuration } from '../config/index.js'
import { fgError } from '../errors.js'

function positiveInt (flag: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw fgError('FG_ERR_CONFIG_INVALID', `${flag} ${text}: expected a whole number from 1 to ${max}`)
  return Number(text)
}

export function pkiCommand () {
  const pki = newCommand('pki', 'make a development PKI, or issue certificates from one')

  pki.addCommand(newCommand('init', 'make a dev PKI: root, issuing and manufacturing CAs, broker, sample vehicles with birth certificates, backend, monitor, provisioner, a rogue CA and attack material')
    .requiredOption('--out <dir>', 'directory to create')
    .option('--vehicles <n>', 'number of sample vehicles', '3')
    .option('--broker-name <names...>', 'extra SAN entries for the broker certificate (beside localhost, 127.0.0.1, ::1)')
    .option('--force', 'replace an existing PKI in --out')
    .action(async (opts: { out: string; vehicles: string; brokerName?: string[]; force?: boolean }) => {
      const vehicles = positiveInt('--vehicles', opts.vehicles, 10_000)!
      const print = progressPrinter('pki init')
      const manifest = await initDevPki(opts.out, { vehicles, force: !!opts.force, brokerNames: opts.brokerName, onProgress: (d, t) => print(d, t) })
      process.stdout.write(`dev PKI in ${opts.out}: root, issuing and manufacturing CAs; broker; vehicles ${manifest.vins.join(', ')}; ` +
        `${manifest.backend}, ${manifest.monitor}, ${manifest.provisioner}; rogue CA and attack/ material\n`)
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
      const count = positiveInt('--count', opts.count, 1_000_000)
      if (opts.csr && count !== undefined && count > 1) throw fgError('FG_ERR_USAGE', '--csr certifies one key: use it with --cn, or --count 1')
      let lifetimeMs: number | undefined
      if (opts.lifetime !== undefined) {
        const ms = parseDuration(opts.lifetime)
        if (ms === null || ms <= 0) throw fgError('FG_ERR_CONFIG_INVALID', `--lifetime ${opts.lifetime}: expected a duration like 30d or 12h`)
        lifetimeMs = ms
      }
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
