// How the embedded stores append durably (the store file, the provisioner's
// journal): opened with O_DSYNC where the platform has it (Linux, macOS), so
// each write returns once its data is on disk, as a write followed by
// fdatasync, in one call to the thread pool instead of two. Where it has not
// (DSYNC 0), the caller still calls fdatasync after its write.
import { constants } from 'node:fs'

/** O_DSYNC, or 0 where the platform has none (then fdatasync after each write) */
export const DSYNC: number = constants.O_DSYNC ?? 0

/** open flags of a file appended to durably: `a+` (read: true) or `a`, with DSYNC */
export function durableAppendFlags (read: boolean): number {
  return constants.O_APPEND | constants.O_CREAT | (read ? constants.O_RDWR : constants.O_WRONLY) | DSYNC
}
