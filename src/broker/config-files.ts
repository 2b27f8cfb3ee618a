// The files a configuration names: the TLS material (--ca, --cert, --key, or
// with --dev the dev PKI's) and the policy. Nothing here creates a file: the
// dev PKI is made by `fleetgate pki dev`, never by starting a broker.
import { existsSync } from 'node:fs'
import { SERVE_OPTIONS, type Config } from '../config/index.js'
import { fgError } from '../contract/errors.js'
import { defaultPolicyPath } from '../policy/index.js'
import { devPkiPaths } from '../pki/index.js'

type DevChoice = Pick<Config, 'dev' | 'devPki' | 'policy'>

/** the command that makes (or checks and completes) this config's dev PKI */
function pkiDevCommand (config: DevChoice): string {
  return 'fleetgate pki dev' + (config.devPki === SERVE_OPTIONS.devPki.default ? '' : ` --dev-pki ${config.devPki}`)
}

/**
 * With --dev, the dev PKI must be there with the files the broker reads
 * (its policy.yaml too, unless --policy is given): FG_ERR_CONFIG_MISSING
 * naming what is missing and the command that makes it. Without --dev: nothing to check.
 */
export function checkDevPki (config: DevChoice): void {
  if (!config.dev) return
  const dev = devPkiPaths(config.devPki, [])
  if (!existsSync(dev.manifest)) throw fgError('FG_ERR_CONFIG_MISSING', `--dev: no dev PKI in ${config.devPki}; make it with "${pkiDevCommand(config)}"`)
  const missing = [dev.root.cert, dev.broker.cert, dev.broker.key, ...(config.policy === undefined ? [dev.policy] : [])].find((f) => !existsSync(f))
  if (missing !== undefined) throw fgError('FG_ERR_CONFIG_MISSING', `--dev: the dev PKI in ${config.devPki} lacks ${missing}; run "${pkiDevCommand(config)}" to check and complete it`)
}

export function tlsPaths (config: Config): { ca: string; cert: string; key: string } {
  if (config.dev) {
    checkDevPki(config)
    const dev = devPkiPaths(config.devPki, [])
    return { ca: dev.root.cert, cert: dev.broker.cert, key: dev.broker.key }
  }
  // resolveConfig lets no Config through without all three; a hand-made object may lack them
  if (config.ca === undefined || config.cert === undefined || config.key === undefined) {
    throw fgError('FG_ERR_CONFIG_MISSING', '--ca, --cert and --key are required (or --dev)')
  }
  return { ca: config.ca, cert: config.cert, key: config.key }
}

/**
 * The policy file: --policy; else, with --dev, the dev PKI's policy.yaml (the
 * shipped policy pinned by that PKI's CA keys); else the shipped policy.
 */
export function policyPath (config: Config): string {
  if (config.policy !== undefined) return config.policy
  if (config.dev) {
    checkDevPki(config)
    return devPkiPaths(config.devPki, []).policy
  }
  return defaultPolicyPath
}
