/**
 * The mapping windows of a flush thread (inv. W2): the thread never maps a whole file, whose
 * size reaches 2^31 bytes at the largest user area (header page + 2 GiB - 4 KiB), one more
 * than the mmap binding's C `int` holds. It maps fixed, page-aligned windows of the file
 * instead (window i covers file bytes [i * W, (i + 1) * W), cut at the end of the file), and
 * an msync range that crosses a window boundary becomes one msync per window.
 */
import { PAGE_SIZE } from './bounds.js'
import { MAX_WINDOW } from './flush-protocol.js'

/** The part of one window that an msync range covers. */
export interface WindowPart {
  /** Window number: it starts at file offset `index * windowBytes`. */
  readonly index: number
  /** File offset where the window starts (page aligned, below 2^31). */
  readonly start: number
  /** Bytes to map for it: up to the end of the window or of the file (below 2^31). */
  readonly size: number
  /** Offset of the range's first byte inside the window. */
  readonly from: number
  /** Bytes of the range inside the window. */
  readonly length: number
}

/**
 * The windows that file bytes `[offset, offset + length)` of a file of `fileSize` bytes fall
 * in, in order. Throws when the arguments are impossible (a bug of the caller).
 */
export function windowsOf(offset: number, length: number, fileSize: number, windowBytes: number): WindowPart[] {
  if (!Number.isSafeInteger(windowBytes) || windowBytes <= 0 || windowBytes % PAGE_SIZE !== 0 || windowBytes > MAX_WINDOW) {
    throw new Error(`flush thread: window size ${windowBytes} is not a multiple of ${PAGE_SIZE} up to ${MAX_WINDOW}`)
  }
  if (![offset, length, fileSize].every(Number.isSafeInteger) || offset < 0 || length < 0 || offset + length > fileSize) {
    throw new Error(`flush thread: range [${offset}, ${offset + length}) is not inside a file of ${fileSize} bytes`)
  }
  const parts: WindowPart[] = []
  const end = offset + length
  for (let at = offset; at < end;) {
    const index = Math.floor(at / windowBytes)
    const start = index * windowBytes
    const size = Math.min(windowBytes, fileSize - start)
    const stop = Math.min(end, start + size)
    parts.push({ index, start, size, from: at - start, length: stop - at })
    at = stop
  }
  return parts
}
