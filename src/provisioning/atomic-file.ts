// Replacing a small file so that a crash leaves the old text or the new one,
// never a torn mix: the text goes to a temporary file beside it, is fsync'd,
// and is renamed over it. (The provisioner's journal when compacted, a
// simulated car's key and certificate in its state dir.)
import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs'

/** replace `path` with `text`, a new file created with `mode`; `tmp` must be in the same directory (rename is atomic there only) */
export function writeFileAtomic (path: string, text: string, mode: number, tmp = `${path}.tmp`): void {
  const fd = openSync(tmp, 'w', mode)
  try {
    writeFileSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}
