// Helpers over the identity view; the types themselves are part of the plugin contract.
import type { Identity } from '../contract/identity.js'
export type { Identity, CaInfo, NameAttributes } from '../contract/identity.js'

/** first value of a subject attribute, or undefined */
export function subjectValue (identity: Identity, attr: string): string | undefined {
  return identity.subject[attr]?.[0]
}
