// Progress for long work: a rewritten line on a terminal, a line every ~10% otherwise.
export function progressPrinter (label: string, stream: NodeJS.WriteStream = process.stderr): (done: number, total: number) => void {
  let lastPct = -1
  const start = Date.now()
  return (done, total) => {
    const pct = total === 0 ? 100 : Math.floor((done * 100) / total)
    const rate = done / Math.max(0.001, (Date.now() - start) / 1000)
    if (stream.isTTY) {
      stream.write(`\r${label}: ${done}/${total} (${pct}%, ${rate.toFixed(0)}/s)${done === total ? '\n' : ''}`)
    } else if (done === total || pct >= lastPct + 10) {
      lastPct = pct
      stream.write(`${label}: ${done}/${total} (${pct}%)\n`)
    }
  }
}
