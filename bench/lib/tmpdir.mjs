// Scratch directories for benchmark files.
//
// Invariants:
//  1. Benchmark files live on the same filesystem as the repository (/work here):
//     os.tmpdir() is used only when it has the same device id as this bench/
//     folder, otherwise bench/.tmp/ is used (ignored by git). A tmpfs would make
//     every fsync free and every durable number a lie.
//  2. Every directory made here is removed when the process exits, also after an
//     error or Ctrl-C, unless PM_BENCH_KEEP=1 is set.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const benchRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const made = new Set()

/** statfs magic numbers of the filesystems we expect to meet, for the report. */
const FS_NAMES = new Map([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'zfs'],
])

/** Name of the filesystem that holds `dir` ('ext4', 'tmpfs', or the hex magic). */
export function filesystemName(dir) {
  const type = fs.statfsSync(dir).type
  return FS_NAMES.get(type) ?? `0x${type.toString(16)}`
}

/** The parent for scratch directories: os.tmpdir() if on the repository's disk (inv. 1). */
function scratchParent() {
  const tmp = os.tmpdir()
  if (fs.statSync(tmp).dev === fs.statSync(benchRoot).dev) return tmp
  const local = path.join(benchRoot, '.tmp')
  fs.mkdirSync(local, { recursive: true })
  return local
}

/** Make a fresh scratch directory, removed at exit (inv. 2). */
export function makeScratchDir(prefix) {
  const dir = fs.mkdtempSync(path.join(scratchParent(), `pm-bench-${prefix}-`))
  made.add(dir)
  return dir
}

/** Remove one scratch directory now. */
export function removeScratchDir(dir) {
  made.delete(dir)
  if (process.env.PM_BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true })
}

function removeAll() {
  for (const dir of [...made]) removeScratchDir(dir)
}

process.on('exit', removeAll)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    removeAll()
    process.exit(130)
  })
}
