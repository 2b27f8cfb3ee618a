// One section of `npm run bench`: fleetgate against a baseline, measured side by side in one run.
export interface BenchSection {
  title: string
  rows: Array<{ metric: string; fleetgate: number; baseline: number; unit: string; target?: string; ratio?: number }>
  notes?: string[]
}

/** what `npm run bench` passes each section's run() */
export interface BenchOptions {
  /** --quick: a smaller run */
  quick: boolean
  /** --cars N: the reconnect storm's car count */
  cars?: number
  /** --duration S: storm-overload's seconds per offered load */
  durationSeconds?: number
}
