// SIGHUP -> reload, one at a time (a second signal during a reload runs once more after it).
import type { ReloadResult } from './result.js'

export function onReloadSignal (reload: () => Promise<ReloadResult> | ReloadResult, report: (result: ReloadResult) => void, signal: NodeJS.Signals = 'SIGHUP'): () => void {
  let running = false
  let again = false
  const run = async (): Promise<void> => {
    if (running) { again = true; return }
    running = true
    try {
      do {
        again = false
        report(await reload())
      } while (again)
    } finally { running = false }
  }
  const handler = () => { void run() }
  process.on(signal, handler)
  return () => { process.off(signal, handler) }
}
