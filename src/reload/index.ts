export { loadReloadable, type Reloadable, type LoadResult } from './load.js'
export { reconsider, type Verdict } from './reconcile.js'
export { type ReloadResult } from './result.js'
export { onReloadSignal } from './signal.js'
