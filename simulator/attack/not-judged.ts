// How an attack ends without a verdict of its own: thrown by an attack or by
// its context (context.ts), turned into SKIPPED or ERROR by the runner. Apart
// from types.ts, so that the context can throw them and types.ts can name the
// context without an import circle.

/** The attack could not be judged for a known reason (e.g. no revocation store given). */
export class SkipAttack extends Error {}
/** A precondition failed (e.g. the victim car is not online): the attack could not be judged. */
export class Inconclusive extends Error {}
