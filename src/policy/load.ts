// The only file of the policy module that touches the file system.
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { fgError } from '../contract/errors.js'
import { parsePolicy } from './parse.js'
import type { Policy } from './types.js'

/** Read and validate a policy file (YAML, or JSON which YAML reads too). Throws FleetgateError. */
export function loadPolicyFile (path: string): Policy {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    throw fgError('FG_ERR_FILE_UNREADABLE', `cannot read policy file ${path}: ${why}`, err)
  }
  return parsePolicy(text, path)
}

// tsc does not copy the YAML to dist/: from dist/src/policy/ look back in src/policy/;
// when run from source, it sits next to this file.
function findDefaultPolicy (): string {
  const fromDist = fileURLToPath(new URL('../../../src/policy/default-policy.yaml', import.meta.url))
  return existsSync(fromDist) ? fromDist : fileURLToPath(new URL('./default-policy.yaml', import.meta.url))
}

/** absolute path of the policy shipped with the package */
export const defaultPolicyPath: string = findDefaultPolicy()
