// `npm run bench [-- --quick]`: every bench section side by side, one table.
// metric | fleetgate | baseline | ratio | target
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { BenchSection } from './types.js'

// Sections in print order; a file that is absent (not written yet) is skipped.
const SECTIONS = ['broker', 'revocation', 'commands', 'provisioning', 'slow-subscriber']

type Row = BenchSection['rows'][number]

/** fleetgate / baseline; for "lower is better" targets (<=) the same ratio, compared the other way. */
export function ratioOf (row: Row): number {
  return row.ratio ?? (row.baseline === 0 ? NaN : row.fleetgate / row.baseline)
}

export function meetsTarget (row: Row): boolean | undefined {
  if (!row.target) return undefined
  const m = /^(>=|<=)\s*([\d.]+)x$/.exec(row.target.trim())
  if (!m) return undefined
  const r = ratioOf(row)
  return m[1] === '>=' ? r >= Number(m[2]) : r <= Number(m[2])
}

export function formatTable (sections: readonly BenchSection[]): string {
  const head = ['metric', 'fleetgate', 'baseline', 'ratio', 'target', '']
  const lines: string[][] = []
  for (const s of sections) {
    lines.push([`## ${s.title}`, '', '', '', '', ''])
    for (const r of s.rows) {
      const ok = meetsTarget(r)
      lines.push([r.metric, `${r.fleetgate} ${r.unit}`, `${r.baseline} ${r.unit}`, `${ratioOf(r).toFixed(2)}x`, r.target ?? '', ok === undefined ? '' : ok ? 'ok' : 'MISSED'])
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...lines.filter((l) => !l[0]!.startsWith('## ')).map((l) => l[i]!.length)))
  const fmt = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |'
  const out = [fmt(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|']
  for (const l of lines) out.push(l[0]!.startsWith('## ') ? `| **${l[0]!.slice(3)}** |` : fmt(l))
  for (const s of sections) for (const n of s.notes ?? []) out.push(`- ${s.title}: ${n}`)
  return out.join('\n')
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const quick = args.includes('--quick')
  const only = args.filter((a) => !a.startsWith('--'))
  const results: BenchSection[] = []
  for (const name of SECTIONS) {
    if (only.length > 0 && !only.includes(name)) continue
    const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url))
    if (!existsSync(file)) continue
    const mod = await import(file) as { run?: (o: { quick: boolean }) => Promise<BenchSection> }
    if (typeof mod.run !== 'function') continue
    process.stderr.write(`bench: ${name}${quick ? ' (quick)' : ''}\n`)
    const t0 = Date.now()
    try {
      results.push(await mod.run({ quick }))
    } catch (err) {
      process.stderr.write(`bench: ${name} failed: ${(err as Error)?.stack ?? String(err)}\n`)
      process.exitCode = 1
    }
    process.stderr.write(`bench: ${name} took ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
  }
  process.stdout.write(formatTable(results) + '\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(() => process.exit(process.exitCode ?? 0), (err: unknown) => { process.stderr.write(String(err) + '\n'); process.exit(1) })
}
