/**
 * Shadow paging, recovery: the same code runs after a clean close and after a crash. It picks
 * the metadata slot to trust, validates the maps of the versions it retains, and rebuilds
 * which physical chunks are in use.
 *
 * Invariants relied on (numbers shared with shadow.ts):
 *   inv. 3  Version v lives only in slot v % 2 and the commit of v never writes the slot of
 *           v - 1, so one slot always holds a durable, valid version (DESIGN.md s.2).
 *   inv. 4  A slot is valid only if every field checks (shadow-format.ts), and every chunk
 *           reference carries the CRC-32C of the chunk: a torn slot or a damaged map node is
 *           detected, never followed.
 *   inv. 5  Open uses the valid slot with the highest version whose newest map validates;
 *           otherwise the other slot, and says so in `fellBack`.
 *   inv. 6  The free set is the complement of the chunks the retained versions reference.
 *   inv. 9  Create writes version 0 into slot 0, and the commit of version 1 writes slot 1;
 *           neither slot is ever cleared. So a blank slot beside a valid version v > 0 (or a
 *           blank slot 0 beside anything) was zeroed by damage: open reports it in
 *           `fellBack` (the blank slot may have held version v + 1). Both slots blank: no
 *           store (NotARegionError, never "an empty store").
 *
 * Why the free set is rebuilt, not stored (the SoftPM SID writes a free-chunk bitmap with
 * each commit): the bitmap is a pure function of the retained maps, which open must read
 * anyway to validate them; rebuilding costs reading the map nodes (8 bytes per logical
 * chunk, shared nodes once) and removes a structure that could disagree with the maps, a
 * write per commit, and a class of leaks (chunks taken by a batch that crashed are simply
 * not referenced, so they are free again). A chunk's "last retained version" (the newest
 * version referencing it) also falls out of the walk: it tells when the chunk is reclaimed.
 */
import { CorruptionError, NotARegionError, UnsupportedVersionError } from '../regions/index.js'
import type { RegionLike } from '../regions/index.js'
import { ChunkIO } from './shadow-io.js'
import { DATA_START, META_MAX, NONE, SLOT_SIZE, decodeSlot, type SlotDecode, type VersionDesc } from './shadow-format.js'

/** What open learns from the slots and maps. */
export interface Recovered {
  chunkSize: number
  keepVersions: number
  /** Retained versions whose maps validate, newest first. */
  descs: VersionDesc[]
  /** Meta blob of each retained version. */
  metas: Map<number, Uint8Array>
  /**
   * Physical chunk -> 1 + the index in `descs` of the newest retained version that
   * references it, 0 for a chunk no retained version references (inv. 6). A byte per chunk
   * (keepVersions <= 64): open walks every retained map, and a Map or Set entry per chunk
   * was most of that walk's time (20,000 chunks: 45 ms of a 85 MB container's open).
   */
  lastRef: Uint8Array
  fellBack: { from: number; reason: string } | null
  /** Older versions the chosen slot lists whose maps do not validate (dropped). */
  dropped: Array<{ version: number; reason: string }>
}

/** Reads both slots of the store at `base` and returns the state to open (inv. 5). */
export function recover(region: RegionLike, base: number): Recovered {
  const where = `Cannot open shadow store on region "${region.path}"`
  if (region.size < base + DATA_START) {
    throw new NotARegionError(`${where}: the region holds ${region.size} bytes, too few for the metadata slots at ${base}; create a store first`)
  }
  const bytes = region.unsafeBytes()
  const slots = [0, 1].map(i => decodeSlot(bytes.slice(base + i * SLOT_SIZE, base + (i + 1) * SLOT_SIZE), i))
  refuseUnreadable(slots, where)
  const failures: string[] = []
  const order = [0, 1].filter(i => slots[i]!.ok).sort((a, b) => version(slots[b]!) - version(slots[a]!))
  for (const i of order) {
    const slot = (slots[i] as Extract<SlotDecode, { ok: true }>).slot
    const got = loadVersions(new ChunkIO(region, base, slot.chunkSize), slot.descs)
    if (typeof got === 'string') { failures.push(`slot ${i} (version ${slot.descs[0]!.version}): ${got}`); continue }
    return { chunkSize: slot.chunkSize, keepVersions: slot.keepVersions, ...got, fellBack: fellBack(slots, i, failures) }
  }
  const reasons = [...failures, ...slots.filter(s => !s.ok).map(s => (s as { reason: string }).reason)]
  throw new CorruptionError(`${where}: no valid version (${reasons.join('; ')}); the file is damaged`)
}

function version(s: SlotDecode): number {
  return s.ok ? s.slot.descs[0]!.version : -1
}

/** Throws for a newer format, a region that is not a store, or two damaged slots. */
function refuseUnreadable(slots: SlotDecode[], where: string): void {
  slots.forEach((s, i) => {
    if (!s.ok && s.newerFormat !== undefined) {
      throw new UnsupportedVersionError(`${where}: metadata slot ${i} has format version ${s.newerFormat}; this library reads version 1, upgrade persistent-memory to open it`)
    }
  })
  if (slots.some(s => s.ok)) return
  if (slots.every(s => !s.ok && !s.magic)) {
    throw new NotARegionError(`${where}: it holds no shadow store (neither metadata slot has the "PMSHADOW" magic); use ShadowStore.create to make one`)
  }
  const reasons = slots.map(s => (s as { reason: string }).reason).join('; ')
  throw new CorruptionError(`${where}: no valid metadata slot (${reasons}); the file is damaged`)
}

type Loaded = Omit<Recovered, 'chunkSize' | 'keepVersions' | 'fellBack'>

/** Validates the newest version (the reason it fails, as a string) and as many older ones as validate. */
function loadVersions(io: ChunkIO, descs: VersionDesc[]): Loaded | string {
  const lastRef = new Uint8Array(io.physCount)
  const metas = new Map<number, Uint8Array>()
  const kept: VersionDesc[] = []
  const dropped: Array<{ version: number; reason: string }> = []
  for (const d of descs) {
    const why = dropped.length ? `older than damaged version ${dropped[0]!.version}` : validateVersion(io, d, kept.length + 1, lastRef, metas)
    if (why === null) { kept.push(d); continue }
    if (kept.length === 0) return why
    dropped.push({ version: d.version, reason: why })
  }
  return { descs: kept, metas, lastRef, dropped }
}

/**
 * Walks version `d`'s map: bounds, no chunk twice, node checksums (inv. 4), entries past the
 * chunk count NONE (inv. 7). Subtrees a newer version already validated are shared and
 * skipped. `mark` is what `lastRef` holds for this version (1 + its index among the versions
 * kept); chunks marked with a smaller number belong to a newer version. On success the
 * version's new chunks stay marked in `lastRef` and its meta is added to `metas`; on failure
 * `lastRef` is as it was.
 */
export function validateVersion(io: ChunkIO, d: VersionDesc, mark: number, lastRef: Uint8Array, metas: Map<number, Uint8Array>): string | null {
  const limit = io.physCount
  const F = io.fanout
  /** Marks `phys` as this version's (null), or says why it cannot be, or 'shared' (a newer version's: skip it). */
  const take = (phys: number): string | null => {
    const r = lastRef[phys]!
    if (r === mark) return `physical chunk ${phys} is referenced twice`
    if (r !== 0) return 'shared'
    lastRef[phys] = mark
    return null
  }
  const visit = (l: number, i: number, phys: number, crc: number): string | null => {
    if (phys === NONE) return crc === 0 ? null : `a hole at level ${l} index ${i} has a checksum`
    if (phys >= limit) return `level ${l} index ${i} references physical chunk ${phys}, beyond the region's ${limit} chunks`
    const taken = take(phys)
    if (taken === 'shared') return null
    if (taken !== null) return taken
    if (l === 0) return null // data chunks are verified on first read
    if (io.crc(phys) !== crc) return `map node (level ${l}, index ${i}) in physical chunk ${phys} fails its checksum`
    const e = io.entries(phys)
    const span = F ** (l - 1)
    for (let j = 0; j < F; j++) {
      const c = i * F + j, cp = e[2 * j]!, cc = e[2 * j + 1]!
      if (c * span >= d.chunkCount) {
        if (cp !== NONE || cc !== 0) return `map node (level ${l}, index ${i}) references child ${j} beyond the chunk count ${d.chunkCount}`
        continue
      }
      if (l === 1) {     // a data chunk: visit(0, c, cp, cc) inline, no call (most entries are these; open runs this cold)
        if (cp === NONE) { if (cc !== 0) return `a hole at level 0 index ${c} has a checksum`; continue }
        if (cp >= limit) return `level 0 index ${c} references physical chunk ${cp}, beyond the region's ${limit} chunks`
        const r = lastRef[cp]!
        if (r === mark) return `physical chunk ${cp} is referenced twice`
        if (r === 0) lastRef[cp] = mark      // else a newer version's (shared)
        continue
      }
      const why = visit(l - 1, c, cp, cc)
      if (why !== null) return why
    }
    return null
  }
  const why = visit(d.depth, 0, d.root, d.rootCrc) ?? readMeta(io, d, take, metas)
  if (why === null) return null
  for (let p = 0; p < lastRef.length; p++) if (lastRef[p] === mark) lastRef[p] = 0      // rejected: as it was
  return `version ${d.version}: ${why}`
}

function readMeta(io: ChunkIO, d: VersionDesc, take: (phys: number) => string | null, metas: Map<number, Uint8Array>): string | null {
  if (d.metaPhys === NONE) { metas.set(d.version, new Uint8Array(0)); return null }
  if (d.metaPhys >= io.physCount) return `meta chunk ${d.metaPhys} is beyond the region's ${io.physCount} chunks`
  const taken = take(d.metaPhys)
  if (taken !== null && taken !== 'shared') return taken
  if (io.crc(d.metaPhys) !== d.metaCrc) return `meta chunk ${d.metaPhys} fails its checksum`
  metas.set(d.version, io.read(d.metaPhys).slice(0, Math.min(d.metaLen, META_MAX)))
  return null
}

/**
 * `fellBack` (inv. 5): null when the other slot is blank or holds an older valid version;
 * otherwise open could not use something that may have been newer (a damaged slot, a torn
 * commit, or a newer version whose map failed), and this says which and why. A damaged
 * slot is reported even when it may have held the older version: open cannot tell.
 */
function fellBack(slots: SlotDecode[], chosen: number, failures: string[]): Recovered['fellBack'] {
  const mine = version(slots[chosen]!)
  const other = slots[1 - chosen]!
  if (other.ok) return other.slot.descs[0]!.version < mine ? null : { from: other.slot.descs[0]!.version, reason: failures.join('; ') }
  // inv. 9: a blank slot is legitimate only beside version 0 (create wrote slot 0; slot 1
  // is first written by the commit of version 1). Slot 0 blank, or slot 1 blank beside a
  // later version, means the slot was zeroed: damage, reported like any other.
  if (other.blank && mine === 0) return null
  if (other.blank) return { from: mine + 1, reason: `${other.reason}, but it was written before (version ${mine} is in the other slot): it was zeroed or damaged` }
  // The other slot has the other parity: if it was newer it held mine + 1. Its own version
  // field cannot be trusted, the slot being damaged.
  return { from: mine + 1, reason: other.reason }
}
