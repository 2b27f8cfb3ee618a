// What every store contract suite shares: a fresh place per test (a data dir
// and a unique id, e.g. a Redis key prefix), stores opened on it closed after
// the test, and a bounded wait for events.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'

/** where one test's stores live: every store opened on one place shares what it holds (two processes on one data dir, on one Redis prefix) */
export interface Place {
  readonly id: string
  readonly dir: string
}

export type MakeStore<T> = (place: Place) => Promise<T>

interface Closable { close (): Promise<void> }

/** Registers the hooks in the calling describe; `open()` opens another store on this test's place. */
export function storesPerTest<T extends Closable> (make: MakeStore<T>): { open (): Promise<T>; place (): Place } {
  let place: Place | undefined
  const opened: T[] = []
  beforeEach(() => { place = { id: randomUUID().slice(0, 8), dir: mkdtempSync(join(tmpdir(), 'fg-contract-')) } })
  afterEach(async () => {
    for (const s of opened.splice(0).reverse()) await s.close().catch(() => {})
    if (place) rmSync(place.dir, { recursive: true, force: true })
  })
  return {
    async open () { const s = await make(place!); opened.push(s); return s },
    place: () => place!,
  }
}

/** wait until `cond` holds, at most `ms` */
export async function until (cond: () => boolean | Promise<boolean>, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

export const fp = (i: number): string => i.toString(16).padStart(64, '0')
