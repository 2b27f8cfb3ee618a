// CPU time of processes, from /proc (Linux): where a multi-process run's time goes.
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'

let tick = 0
function clockTick (): number {
  if (!tick) {
    try { tick = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100 } catch { tick = 100 }
  }
  return tick
}

/** user + system CPU milliseconds a process has used so far (NaN where /proc cannot tell) */
export function cpuMs (pid: number | undefined): number {
  if (pid === undefined) return NaN
  if (pid === process.pid) { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name (which may hold spaces) start at ')'
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(f[11]) + Number(f[12])) * 1000) / clockTick()
  } catch { return NaN }
}

/** CPU used by each named process between two calls */
export function cpuMeter (pids: Record<string, number | undefined>): () => Record<string, number> {
  const start = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]))
  return () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid) - start[k]!]))
}
