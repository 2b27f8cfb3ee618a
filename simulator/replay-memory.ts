// A car's replay memory across restarts (security review 10): the jti of every
// accepted command until its expiry, in <state dir>/replay.json, written
// atomically after each one (commands are seconds apart; a few entries). A car
// with no state dir refuses every command issued before it started instead
// (verifyCommand's replayFloor): the replay window is closed either way.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ReplayCache, writeFileAtomic } from '../src/index.js'

export const REPLAY_FILE = 'replay.json'

export interface ReplayMemory {
  readonly cache: ReplayCache
  /** the verifier's replayFloor: set when nothing was remembered */
  readonly floor: number | undefined
  /** after an accepted command */
  save (now: number): void
}

export function openReplayMemory (stateDir: string | undefined, now: number, capacity?: number): ReplayMemory {
  if (stateDir === undefined) return { cache: new ReplayCache(capacity), floor: now, save () {} }
  const file = join(stateDir, REPLAY_FILE)
  let entries: Array<[string, number]> = []
  let readable = true
  if (existsSync(file)) {
    try { entries = JSON.parse(readFileSync(file, 'utf8')) as Array<[string, number]> } catch { readable = false }
  }
  const cache = ReplayCache.from(Array.isArray(entries) ? entries : [], now, capacity)
  return {
    cache,
    // a replay file that cannot be read is no memory: fall back to the start fence (fail closed)
    floor: readable && Array.isArray(entries) ? undefined : now,
    save (t) { writeFileAtomic(file, JSON.stringify(cache.entries(t)), 0o600) },
  }
}
