// `npm run bench [-- --quick] [section ...]`: the bench sections side by side, one table.
// `npm run bench -- reconnect-storm [--cars N]`, `npm run bench -- storm-overload [--duration S]`: sections run only when named.
// metric | fleetgate | baseline | ratio | target
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { BenchOptions, BenchSection } from './types.js'

// Sections in print order; a file that is absent (not written yet) is skipped.
const SECTIONS = ['broker', 'revocation', 'commands', 'provisioning', 'slow-subscriber', 'expiry']
// Sections run only when named (too long for every run): the 10,000-car reconnect storm, its servers in alternating
// connect rounds, the overload storm; serve --workers 1 vs 2.
const ON_REQUEST = ['reconnect-storm', 'connect-rounds', 'storm-overload', 'workers']
const MAX_CARS = 100_000
const MAX_DURATION = 600

export const USAGE = `usage: npm run bench [-- [--quick] [${[...SECTIONS, ...ON_REQUEST].join('|')} ...] [--cars N] [--duration S]]  (no section: ${SECTIONS.join(', ')}; --cars N, 1..${MAX_CARS}, for reconnect-storm, default 10000; --duration S, 1..${MAX_DURATION}, seconds per offered load for storm-overload, default 30)`

export interface BenchArgs extends BenchOptions {
  /** the sections to run, in print order */
  sections: string[]
}

/** The command line of `npm run bench`; a string is what is wrong with it. */
export function parseArgs (args: readonly string[]): BenchArgs | string {
  let quick = false
  let cars: number | undefined
  let durationSeconds: number | undefined
  const named: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--quick') quick = true
    else if (a === '--cars' || a.startsWith('--cars=')) {
      const text = a === '--cars' ? args[++i] : a.slice('--cars='.length)
      if (text === undefined || !/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_CARS) return `--cars takes a whole number from 1 to ${MAX_CARS}, got ${text === undefined ? 'nothing' : `"${text}"`}`
      cars = Number(text)
    } else if (a === '--duration' || a.startsWith('--duration=')) {
      const text = a === '--duration' ? args[++i] : a.slice('--duration='.length)
      if (text === undefined || !/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_DURATION) return `--duration takes whole seconds from 1 to ${MAX_DURATION}, got ${text === undefined ? 'nothing' : `"${text}"`}`
      durationSeconds = Number(text)
    } else if (a.startsWith('-')) return `unknown option "${a}"`
    else if (!SECTIONS.includes(a) && !ON_REQUEST.includes(a)) return `unknown section "${a}"`
    else if (!named.includes(a)) named.push(a)
  }
  if (cars !== undefined && !named.includes('reconnect-storm')) return '--cars is for reconnect-storm: npm run bench -- reconnect-storm --cars N'
  if (durationSeconds !== undefined && !named.includes('storm-overload')) return '--duration is for storm-overload: npm run bench -- storm-overload --duration S'
  const sections = named.length === 0 ? SECTIONS : [...SECTIONS, ...ON_REQUEST].filter((s) => named.includes(s))
  return { quick, ...(cars !== undefined ? { cars } : {}), ...(durationSeconds !== undefined ? { durationSeconds } : {}), sections }
}

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
  const parsed = parseArgs(process.argv.slice(2))
  if (typeof parsed === 'string') {
    process.stderr.write(`bench: ${parsed}\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  const { sections, ...options } = parsed
  const results: BenchSection[] = []
  for (const name of sections) {
    const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url))
    if (!existsSync(file)) continue
    const mod = await import(file) as { run?: (o: BenchOptions) => Promise<BenchSection> }
    if (typeof mod.run !== 'function') continue
    process.stderr.write(`bench: ${name}${options.quick ? ' (quick)' : ''}\n`)
    const t0 = Date.now()
    try {
      results.push(await mod.run(options))
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
