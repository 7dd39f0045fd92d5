/**
 * The discovery queue of a point: objects given an id and not encoded yet, as (id, kind,
 * proto code, own string names) quadruples in one typed array (no per-entry allocation),
 * taken first in, first
 * out. Records therefore come in the order their objects were discovered (breadth first),
 * so a restore, which builds objects in log order and creates each forward reference's
 * shell from its record header, reads the log mostly front to back.
 *
 * Invariant: entries are taken in the order they were pushed, each exactly once.
 */
import { sharedI32 } from './by-id.js'

export class PendingQueue {
  #a = sharedI32(4 * 1024)
  #head = 0
  #n = 0
  /** Fields of the entry `pop` took. */
  id = 0
  kind = 0
  proto = 0
  /** What the encoder found of the object's own properties when it discovered it (encode.ts `discover`): -1, or its count of own string keys. */
  names = -1
  get size(): number { return (this.#n - this.#head) / 4 }
  push(id: number, kind: number, proto: number, names: number): void {
    let a = this.#a
    if (this.#n + 4 > a.length) {
      if (this.#head >= a.length / 2) { a.copyWithin(0, this.#head, this.#n); this.#n -= this.#head; this.#head = 0 }
      else { const b = sharedI32(a.length * 2); b.set(a.subarray(this.#head, this.#n)); this.#n -= this.#head; this.#head = 0; this.#a = a = b }
    }
    a[this.#n] = id; a[this.#n + 1] = kind; a[this.#n + 2] = proto; a[this.#n + 3] = names
    this.#n += 4
  }
  /** Takes the oldest entry into `id`, `kind`, `proto`, `names`; false when empty. */
  pop(): boolean {
    if (this.#head === this.#n) { this.#head = this.#n = 0; return false }
    const a = this.#a, h = this.#head
    this.id = a[h]; this.kind = a[h + 1]; this.proto = a[h + 2]; this.names = a[h + 3]
    this.#head = h + 4
    return true
  }
  clear(): void { this.#head = this.#n = 0 }
}
