/**
 * Shadow paging, the debug validator behind `ShadowStore.check()`: walks every retained
 * version completely (data chunks too) and compares what it finds with the store's free set
 * and reclamation lists. Tests call it after every step; it never changes anything.
 *
 * What it checks (numbers shared with shadow.ts):
 *   - every chunk of every retained version is inside the region and matches the checksum
 *     its parent stores (inv. 4); entries past a version's chunk count are NONE (inv. 7);
 *   - no physical chunk is used twice within one version;
 *   - chunks in use = union of the retained versions' chunks plus the chunks the staged
 *     batch took, and nothing else (inv. 6; a leak or a live chunk marked free is reported);
 *   - no staged chunk is referenced by a retained version (inv. 1);
 *   - every chunk that the newest version no longer references waits in the reclamation
 *     list of the newest retained version that still references it (inv. 6).
 */
import type { ChunkIO } from './shadow-io.js'
import type { FreeSpace } from './shadow-space.js'
import { NONE, type VersionDesc } from './shadow-format.js'

/** The store state the validator reads. */
export interface CheckInput {
  io: ChunkIO
  space: FreeSpace
  /** Retained versions, newest first (durable ones and any sealed by a commit in flight). */
  descs: VersionDesc[]
  /** Chunks the staged batch took. */
  staged: number[]
  /** Version -> chunks to free when it leaves the window. */
  releasedAt: Map<number, number[]>
  /** Problems the staged map found in itself. */
  stagedProblems: string[]
}

/** Returns every problem found (empty when the store is consistent). */
export function checkShadow(s: CheckInput): string[] {
  const problems: string[] = []
  const newestRef = new Map<number, number>()
  const crcs = new Map<number, number>()
  const crcOf = (p: number): number => {
    let c = crcs.get(p)
    if (c === undefined) { c = s.io.crc(p); crcs.set(p, c) }
    return c
  }
  for (const d of s.descs) {
    for (const p of walkVersion(s.io, d, crcOf, problems)) if (!newestRef.has(p)) newestRef.set(p, d.version)
  }
  checkFreeSet(s, newestRef, problems)
  checkReclaim(s, newestRef, problems)
  return [...problems, ...s.stagedProblems]
}

/** Every chunk version `d` references, reporting bad ones. */
function walkVersion(io: ChunkIO, d: VersionDesc, crcOf: (p: number) => number, problems: string[]): Set<number> {
  const local = new Set<number>()
  const F = io.fanout, limit = io.physCount
  const what = (l: number, i: number) => i < 0 ? 'the meta chunk' : l === 0 ? `logical chunk ${i}` : `map node (level ${l}, index ${i})`
  const visit = (l: number, i: number, phys: number, crc: number): void => {
    if (phys === NONE) return
    if (phys >= limit) { problems.push(`version ${d.version}: ${what(l, i)} references chunk ${phys} beyond the region's ${limit} chunks`); return }
    if (local.has(phys)) { problems.push(`version ${d.version}: physical chunk ${phys} is used twice (again by ${what(l, i)})`); return }
    local.add(phys)
    if (crcOf(phys) !== crc) problems.push(`version ${d.version}: ${what(l, i)} in physical chunk ${phys} fails its checksum (inv. 4)`)
    if (l === 0) return
    for (let j = 0; j < F; j++) {
      const c = i * F + j, cp = io.entryPhys(phys, j)
      if (c * F ** (l - 1) >= d.chunkCount) {
        if (cp !== NONE) problems.push(`version ${d.version}: ${what(l, i)} references child ${j} beyond chunk count ${d.chunkCount} (inv. 7)`)
        continue
      }
      visit(l - 1, c, cp, io.entryCrc(phys, j))
    }
  }
  visit(d.depth, 0, d.root, d.rootCrc)
  if (d.metaPhys !== NONE) visit(0, -1, d.metaPhys, d.metaCrc)
  return local
}

function checkFreeSet(s: CheckInput, newestRef: Map<number, number>, problems: string[]): void {
  const staged = new Set(s.staged)
  for (const p of staged) {
    if (newestRef.has(p)) problems.push(`staged chunk ${p} is referenced by retained version ${newestRef.get(p)} (inv. 1)`)
  }
  for (let p = 0; p < s.space.count; p++) {
    const expected = newestRef.has(p) || staged.has(p)
    if (expected && !s.space.isUsed(p)) problems.push(`physical chunk ${p} is in use but marked free (inv. 6)`)
    if (!expected && s.space.isUsed(p)) problems.push(`physical chunk ${p} is marked in use but no retained version or staged write references it: a leak (inv. 6)`)
  }
}

function checkReclaim(s: CheckInput, newestRef: Map<number, number>, problems: string[]): void {
  const newest = s.descs[0]!.version
  const listed = new Map<number, number>()
  for (const [v, list] of s.releasedAt) for (const p of list) listed.set(p, v)
  for (const [p, v] of newestRef) {
    if (v === newest) {
      if (listed.has(p)) problems.push(`chunk ${p} of the newest version waits to be freed with version ${listed.get(p)} (inv. 1)`)
    } else if (listed.get(p) !== v) {
      problems.push(`chunk ${p}, last referenced by version ${v}, is not queued to be freed when that version leaves the window (inv. 6)`)
    }
  }
  for (const [p, v] of listed) if (!newestRef.has(p)) problems.push(`chunk ${p} queued with version ${v} is not referenced by any retained version`)
}
