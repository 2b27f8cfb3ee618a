// One section of `npm run bench`: fleetgate against a baseline, measured side by side in one run.
export interface BenchSection {
  title: string
  rows: Array<{ metric: string; fleetgate: number; baseline: number; unit: string; target?: string; ratio?: number }>
  notes?: string[]
}
