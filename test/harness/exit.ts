// One process 'exit' listener for every throwaway resource the tests start (redis-servers,
// broker child processes): a listener per resource passed Node's limit of 10 in one mocha
// run (MaxListenersExceededWarning), and was never removed.
const cleanups = new Set<() => void>()
let hooked = false

/** run `fn` when the test process exits (synchronous work only, as in any 'exit' listener) */
export function atExit (fn: () => void): void {
  cleanups.add(fn)
  if (hooked) return
  hooked = true
  process.once('exit', () => {
    for (const f of cleanups) {
      try { f() } catch { /* the next resource still gets cleaned */ }
    }
  })
}
