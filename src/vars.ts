/**
 * Named persistent variables (Mnemosyne's `persistent` keyword): a directory of entries
 * kept in the heap as a singly linked list from the heap header's `varsHead`, each naming
 * a zero-filled heap block and the signature of its type.
 *
 * Entry (the payload of one heap block):
 *
 * | offset | size | description                                                        |
 * | -----: | ---: | ------------------------------------------------------------------ |
 * |      0 |    8 | next entry (0 = end)                                               |
 * |      8 |    8 | data: offset of the variable's block                               |
 * |     16 |    8 | size of the variable in bytes                                      |
 * |     24 |    2 | name length in bytes (UTF-8, 1..255)                               |
 * |     26 |    2 | type signature length in bytes (UTF-8)                             |
 * |     28 |    4 | checksum: CRC-32C of bytes [0, 28) and of the name and signature    |
 * |        |      | bytes (0 in entries written before version 0.2: not checked)       |
 * |     32 |    * | name bytes, then signature bytes                                   |
 *
 * Invariants ("vars inv. N"):
 *   1. An entry and its data block are created in one transaction, so after any crash a name
 *      either has its zeroed block or does not exist.
 *   2. An entry never changes after that transaction (new entries are linked at the head), so
 *      its checksum covers every field, `next` included.
 *   3. `readVars` accepts an entry only if it and its data are payloads of allocated heap
 *      blocks that hold them, its checksum matches, and the list has no cycle; anything else is
 *      CorruptionError naming the entry: a damaged directory never yields another variable's
 *      data or a hang.
 *   4. An entry created in a transaction that aborts never existed: its `dropped` flag is set
 *      by the creating transaction's abort hook, and every handle made from it (a collection,
 *      a variable given to `tx.view`) refuses all use with TransactionEndedError, since its
 *      block is free and may already hold another variable or collection.
 *   5. A handle names a variable of one file: `tx.view` takes a handle `persistent` returned
 *      only in a pool whose directory has that name at that offset (the same file, opened
 *      now or before), and refuses one from another pool with InvalidArgumentError. Before
 *      session 13 it viewed whatever this pool held at the other pool's offset: a write
 *      through it landed silently in another variable, or in a heap block's middle.
 *   6. A variable lives as long as its pool: `tx.free` refuses its data block and its entry's
 *      block with InvalidArgumentError, nothing freed (pm.ts `refuseVariableFree`). Before
 *      session 14 the free committed, check() stayed clean, the next open failed on inv. 3
 *      (CorruptionError: the directory names a free block), and the block, handed out again,
 *      was both the variable and the new allocation.
 */
import { CorruptionError, InvalidArgumentError, TransactionEndedError, TypeMismatchError, crc32c, describe } from '../regions/index.js'
import type { Tx } from '../txn/index.js'
import { allocatedCapacity, type Heap } from './heap.js'
import { checkText } from './varlen.js'
import { matchesSig, type TypeDesc } from './types.js'
import type { Life } from './view-life.js'

/** A named persistent variable: where it lives and its type. */
export interface Persistent<T extends TypeDesc = TypeDesc> {
  readonly name: string
  readonly type: T
  /** Byte offset of the variable in the region (use it with tx.readF64 etc.). */
  readonly offset: number
  readonly size: number
}

/** A directory entry as read from the file. */
export interface VarEntry {
  name: string; sig: string; offset: number; size: number; at: number
  /** Set when the transaction that created the entry aborted (vars inv. 4). */
  dropped?: true
  /** The Life the views of its handles hold (guard inv. G2, in memory only), killed when dropped. */
  life?: Life
}

/** TransactionEndedError for the use of a handle whose entry was dropped (vars inv. 4). */
export function droppedError(action: string, what: string, kind: string): TransactionEndedError {
  return new TransactionEndedError(`${action}: ${what} was declared inside a transaction that aborted, so it does not exist (its space may hold something else now); nothing was changed. Declare it again with pm.${kind}(...) and use the new handle`)
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })
const rd = (tx: Tx, off: number): number => Number(tx.readBigU64(off))

/** Reads every entry; CorruptionError when the list is damaged (vars inv. 3). */
export function readVars(tx: Tx, heap: Heap, path: string): VarEntry[] {
  const out: VarEntry[] = []
  const seen = new Set<number>()
  for (let at = rd(tx, heap.varsHeadOffset); at !== 0; at = rd(tx, at)) {
    const bad = (what: string) => new CorruptionError(`Cannot read the variables of "${path}": the directory entry at ${at} ${what}; run check() and restore the file from a backup`)
    if (seen.has(at)) throw bad('closes a cycle in the directory list')
    seen.add(at)
    const room = allocatedCapacity(tx, heap.base, at)
    if (room === null || room < 32) throw bad('is not an allocated heap block')
    const nameLen = tx.readU8(at + 24) | (tx.readU8(at + 25) << 8)
    const sigLen = tx.readU8(at + 26) | (tx.readU8(at + 27) << 8)
    if (nameLen < 1 || nameLen > 255 || 32 + nameLen + sigLen > room) throw bad(`has impossible name/signature lengths ${nameLen}/${sigLen}`)
    const stored = tx.readU32(at + 28)
    if (stored !== 0 && stored !== entryChecksum(tx, at, nameLen + sigLen)) throw bad('fails its checksum')
    let name: string, sig: string
    try {
      name = dec.decode(tx.readBytes(at + 32, nameLen))
      sig = dec.decode(tx.readBytes(at + 32 + nameLen, sigLen))
    } catch {
      throw bad('has a damaged name')
    }
    const offset = rd(tx, at + 8), size = rd(tx, at + 16)
    const dataRoom = allocatedCapacity(tx, heap.base, offset)
    if (dataRoom === null || size > dataRoom) throw bad(`names data at ${offset} (${size} bytes) that is not an allocated heap block holding it`)
    out.push({ name, sig, offset, size, at })
  }
  return out
}

/** CRC-32C of an entry's bytes [0, 28) and its `textLen` name and signature bytes (vars inv. 2). */
function entryChecksum(tx: Tx, at: number, textLen: number): number {
  const b = new Uint8Array(28 + textLen)
  b.set(tx.readBytes(at, 28), 0)
  b.set(tx.readBytes(at + 32, textLen), 28)
  return crc32c(b)
}

/**
 * Checks a variable's (or collection's) name; returns its UTF-8 bytes. A name with a lone
 * surrogate is refused (varlen inv. 4): stored as U+FFFD it would be found under another name
 * after a reopen, and two such names would be one.
 */
export function nameBytes(name: unknown, what = 'persistent variable'): Uint8Array {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(`Cannot declare ${what}: name must be a non-empty string, got ${describe(name)}`)
  checkText(name, `Cannot declare ${what} ${JSON.stringify(name)}`)
  const b = enc.encode(name)
  if (b.length > 255) throw new InvalidArgumentError(`Cannot declare persistent variable "${name.slice(0, 40)}...": name is longer than 255 bytes`)
  return b
}

/** Creates a variable inside `tx`: a zeroed block plus a directory entry linked at the head. */
export function createVar(tx: Tx, heap: Heap, name: string, type: TypeDesc): VarEntry {
  const nb = nameBytes(name)
  const sb = enc.encode(type.sig)
  if (sb.length > 0xffff) throw new InvalidArgumentError(`Cannot declare persistent variable "${name}": its type's signature takes ${sb.length} bytes, more than the 65535 a directory entry holds; use fewer or shorter field names`)
  const data = heap.alloc(tx, Math.max(1, type.size), Math.max(8, type.align))
  const at = heap.alloc(tx, 32 + nb.length + sb.length, 8)
  const head = heap.varsHeadOffset
  tx.writeBigU64(at, tx.readBigU64(head))
  tx.writeBigU64(at + 8, BigInt(data))
  tx.writeBigU64(at + 16, BigInt(type.size))
  tx.writeU8(at + 24, nb.length)
  tx.writeU8(at + 26, sb.length & 0xff)
  tx.writeU8(at + 27, sb.length >> 8)
  tx.writeBytes(at + 32, nb)
  tx.writeBytes(at + 32 + nb.length, sb)
  tx.writeU32(at + 28, entryChecksum(tx, at, nb.length + sb.length))
  tx.writeBigU64(head, BigInt(at))
  return { name, sig: type.sig, offset: data, size: type.size, at }
}

/** TypeMismatchError unless an existing entry has the declared type (types inv. 1-2). */
export function checkSameType(path: string, e: VarEntry, type: TypeDesc): void {
  if (!matchesSig(e.sig, type)) {
    throw new TypeMismatchError(`Cannot declare persistent variable "${e.name}" in "${path}" as ${type.sig}: it already exists as ${e.sig}`)
  }
}
