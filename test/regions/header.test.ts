/**
 * Tests of regions/header.ts (encoding, the pure total decoder, inv. H1-H2) and
 * regions/checksum.ts (CRC-32C), including fast-check fuzzing of the decoder with random
 * and mutated bytes: always a typed PmemError naming the file, never another exception.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { crc32c, crc32cUpdate } from '../../regions/checksum.js'
import {
  decodeHeader, encodeHeader, hasRegionMagic, FORMAT_VERSION, HEADER_SIZE, HEADER_STRUCT_SIZE, MAGIC, MAX_USER_SIZE,
  type RegionHeader,
} from '../../regions/header.js'
import { SECTOR_SIZE } from '../../regions/bounds.js'
import {
  CorruptionError, InvalidArgumentError, NotARegionError, OutOfRangeError, PmemError, UnsupportedVersionError,
} from '../../regions/errors.js'

const PATH = '/data/some region.pm'

/** Bitwise CRC-32C, the reference the table-driven one must match. */
function crcReference(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const b of bytes) {
    c ^= b
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  }
  return ~c >>> 0
}

function sample(over: Partial<RegionHeader> = {}): RegionHeader {
  return {
    version: FORMAT_VERSION, headerSize: HEADER_SIZE, userSize: 8 * 4096,
    id: '00112233445566778899aabbccddeeff', flags: 0, createdAt: 1_700_000_000_000, ...over,
  }
}

/** Re-seals a mutated header struct with a correct checksum. */
function reseal(page: Uint8Array): Uint8Array {
  new DataView(page.buffer, page.byteOffset).setUint32(60, crc32c(page, 0, 60), true)
  return page
}

function setU32(page: Uint8Array, off: number, v: number): Uint8Array {
  new DataView(page.buffer, page.byteOffset).setUint32(off, v, true)
  return page
}

function setU64(page: Uint8Array, off: number, v: bigint): Uint8Array {
  new DataView(page.buffer, page.byteOffset).setBigUint64(off, v, true)
  return page
}

/** Asserts that `fn` throws `cls` whose message names PATH and matches `re`. */
function throwsNaming(fn: () => unknown, cls: new (...a: never[]) => PmemError, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`)
    assert.ok(e.message.includes(`"${PATH}"`), `message must name the file: ${e.message}`)
    assert.match(e.message, re)
    return true
  })
}

/** The fuzz property: a valid header, or a PmemError naming the file; nothing else. */
function decodesOrNamesFile(bytes: Uint8Array, fileSize?: number): RegionHeader | PmemError {
  try {
    return decodeHeader(bytes, PATH, fileSize)
  } catch (e) {
    if (!(e instanceof PmemError)) throw new Error(`decodeHeader threw a non-PmemError: ${String(e)}`)
    if (!e.message.includes(`"${PATH}"`)) throw new Error(`message does not name the file: ${e.message}`)
    return e
  }
}

describe('crc32c', () => {
  it('matches the standard check value and the RFC 3720 vectors', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283)
    assert.equal(crc32c(new Uint8Array(0)), 0)
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa)
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43)
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e)
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c)
  })

  it('equals the bitwise reference on any range, and composes with crc32cUpdate', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1)
      const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1))
      const expected = crcReference(bytes.subarray(start, end))
      assert.equal(crc32c(bytes, start, end), expected)
      const mid = start + ((end - start) >> 1)
      assert.equal(crc32cUpdate(crc32cUpdate(0, bytes, start, mid), bytes, mid, end), expected)
    }))
  })

  it('rejects a range outside the array with OutOfRangeError', () => {
    const b = new Uint8Array(8)
    assert.throws(() => crc32c(b, 0, 9), OutOfRangeError)
    assert.throws(() => crc32c(b, -1, 4), OutOfRangeError)
    assert.throws(() => crc32c(b, 5, 4), OutOfRangeError)
    assert.throws(() => crc32c(b, 0.5, 4), OutOfRangeError)
  })
})

describe('header layout', () => {
  it('inv. H1: the struct fits in the first sector, so a header write is never torn', () => {
    assert.ok(HEADER_STRUCT_SIZE <= SECTOR_SIZE)
    assert.equal(HEADER_SIZE % 4096, 0)
    assert.equal(MAX_USER_SIZE, 2 ** 31 - 4096)
  })

  it('encodes a 4096-byte page: magic, fields, checksum, then zeros', () => {
    const page = encodeHeader(sample())
    assert.equal(page.length, HEADER_SIZE)
    assert.deepEqual(page.subarray(0, 8), MAGIC)
    assert.equal(new TextDecoder().decode(page.subarray(0, 7)), 'PMEMRGN')
    const dv = new DataView(page.buffer)
    assert.equal(dv.getUint32(8, true), 1)
    assert.equal(dv.getUint32(12, true), 4096)
    assert.equal(dv.getBigUint64(16, true), 32768n)
    assert.equal(dv.getUint32(60, true), crc32c(page, 0, 60))
    assert.ok(page.subarray(HEADER_STRUCT_SIZE).every(b => b === 0))
  })

  it('round-trips any valid header, also from a subarray and with the file longer (inv. H3)', () => {
    const header = fc.record({
      version: fc.constant(FORMAT_VERSION), headerSize: fc.constant(HEADER_SIZE),
      userSize: fc.integer({ min: 1, max: MAX_USER_SIZE / 4096 }).map(p => p * 4096),
      id: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(b => Buffer.from(b).toString('hex')),
      flags: fc.constant(0), createdAt: fc.nat({ max: 2 ** 48 }),
    })
    fc.assert(fc.property(header, fc.nat({ max: 10_000 }), (h, extra) => {
      const framed = new Uint8Array(HEADER_SIZE + 3)
      framed.set(encodeHeader(h), 3)
      assert.deepEqual(decodeHeader(framed.subarray(3), PATH, HEADER_SIZE + h.userSize + extra), { ...h })
      assert.deepEqual(decodeHeader(encodeHeader(h).subarray(0, HEADER_STRUCT_SIZE), PATH), { ...h })
    }))
  })

  it('refuses to encode an id that is not 32 hex digits', () => {
    assert.throws(() => encodeHeader(sample({ id: 'xyz' })), InvalidArgumentError)
  })

  it('hasRegionMagic accepts the magic and its non-empty prefixes only', () => {
    assert.equal(hasRegionMagic(encodeHeader(sample())), true)
    assert.equal(hasRegionMagic(MAGIC.subarray(0, 3)), true)
    assert.equal(hasRegionMagic(new Uint8Array(0)), false)
    assert.equal(hasRegionMagic(new TextEncoder().encode('hello world')), false)
  })
})

describe('decodeHeader errors', () => {
  it('wrong magic is NotARegionError', () => {
    throwsNaming(() => decodeHeader(new TextEncoder().encode('just some text file, not ours at all'.padEnd(64)), PATH), NotARegionError, /not a persistent-memory region.*wrong magic/)
  })

  it('an empty file is NotARegionError', () => {
    throwsNaming(() => decodeHeader(new Uint8Array(0), PATH), NotARegionError, /empty/)
  })

  it('truncation inside the magic or the struct is CorruptionError', () => {
    const page = encodeHeader(sample())
    throwsNaming(() => decodeHeader(page.subarray(0, 5), PATH), CorruptionError, /truncated/)
    throwsNaming(() => decodeHeader(page.subarray(0, 40), PATH), CorruptionError, /truncated \(40 of 64 bytes\)/)
  })

  it('a bad checksum is CorruptionError naming both values', () => {
    const page = encodeHeader(sample())
    page[20] ^= 1
    throwsNaming(() => decodeHeader(page, PATH), CorruptionError, /checksum mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/)
  })

  it('a newer version is UnsupportedVersionError; a damaged version field is CorruptionError', () => {
    throwsNaming(() => decodeHeader(reseal(setU32(encodeHeader(sample()), 8, 2)), PATH), UnsupportedVersionError, /version 2 is newer than the supported version 1/)
    throwsNaming(() => decodeHeader(setU32(encodeHeader(sample()), 8, 2), PATH), CorruptionError, /checksum/)
    throwsNaming(() => decodeHeader(reseal(setU32(encodeHeader(sample()), 8, 0)), PATH), CorruptionError, /impossible format version 0/)
  })

  it('unknown flags are UnsupportedVersionError', () => {
    throwsNaming(() => decodeHeader(reseal(setU32(encodeHeader(sample()), 40, 4)), PATH), UnsupportedVersionError, /flags 0x00000004/)
  })

  it('impossible header or user sizes are CorruptionError', () => {
    throwsNaming(() => decodeHeader(reseal(setU32(encodeHeader(sample()), 12, 512)), PATH), CorruptionError, /impossible header size 512/)
    for (const bad of [0n, 4095n, 4097n, BigInt(MAX_USER_SIZE) + 4096n, 2n ** 64n - 4096n]) {
      throwsNaming(() => decodeHeader(reseal(setU64(encodeHeader(sample()), 16, bad)), PATH), CorruptionError, new RegExp(`impossible user-area size ${bad}`))
    }
  })

  it('inv. H2: a file shorter than the header announces is CorruptionError naming both sizes', () => {
    const page = encodeHeader(sample())
    throwsNaming(() => decodeHeader(page, PATH, 4096 + 8 * 4096 - 1), CorruptionError, /announces 36864 bytes.*file has 36863/)
    throwsNaming(() => decodeHeader(page, PATH, 4096), CorruptionError, /truncated/)
    assert.equal(decodeHeader(page, PATH, 36864).userSize, 32768)
  })
})

describe('decodeHeader fuzz', () => {
  const valid = encodeHeader(sample())

  it('random bytes: a PmemError naming the file, never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.option(fc.nat({ max: 1 << 20 }), { nil: undefined }), (bytes, size) => {
      decodesOrNamesFile(bytes, size)
    }), { numRuns: 2000 })
  })

  it('random bytes behind a valid magic: still only PmemErrors', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 120 }), bytes => {
      const b = new Uint8Array(8 + bytes.length)
      b.set(MAGIC)
      b.set(bytes, 8)
      assert.ok(decodesOrNamesFile(b) instanceof PmemError)
    }), { numRuns: 2000 })
  })

  it('1 to 3 flipped bits anywhere in the struct are always detected', () => {
    const flips = fc.uniqueArray(fc.nat({ max: HEADER_STRUCT_SIZE * 8 - 1 }), { minLength: 1, maxLength: 3 })
    fc.assert(fc.property(flips, bits => {
      const b = valid.slice()
      for (const bit of bits) b[bit >> 3] ^= 1 << (bit & 7)
      const r = decodesOrNamesFile(b)
      assert.ok(r instanceof NotARegionError || r instanceof CorruptionError, `undetected flip of bits ${bits}: ${String(r)}`)
    }), { numRuns: 3000 })
  })

  it('arbitrary byte mutations give a PmemError or the original header', () => {
    const edit = fc.array(fc.tuple(fc.nat({ max: HEADER_STRUCT_SIZE - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 10 })
    fc.assert(fc.property(edit, edits => {
      const b = valid.slice()
      for (const [at, v] of edits) b[at] = v
      const r = decodesOrNamesFile(b)
      if (!(r instanceof PmemError)) assert.deepEqual(r, sample())
    }), { numRuns: 3000 })
  })

  it('truncation at any length is an error naming the file', () => {
    fc.assert(fc.property(fc.nat({ max: HEADER_STRUCT_SIZE - 1 }), n => {
      const r = decodesOrNamesFile(valid.subarray(0, n))
      assert.ok(r instanceof (n === 0 ? NotARegionError : CorruptionError), String(r))
    }))
  })

  it('any other version: resealed newer ones are UnsupportedVersionError, unsealed ones CorruptionError', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }).filter(v => v !== FORMAT_VERSION), v => {
      const sealed = decodesOrNamesFile(reseal(setU32(valid.slice(), 8, v)))
      assert.ok(sealed instanceof (v > FORMAT_VERSION ? UnsupportedVersionError : CorruptionError), String(sealed))
      assert.ok(decodesOrNamesFile(setU32(valid.slice(), 8, v)) instanceof CorruptionError)
    }))
  })

  it('any resealed user size is accepted only if a positive multiple of 4096 up to the maximum', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat({ max: MAX_USER_SIZE + 8192 }), (size, fileSize) => {
      const r = decodesOrNamesFile(reseal(setU64(valid.slice(), 16, size)), fileSize)
      const sane = size > 0n && size % 4096n === 0n && size <= BigInt(MAX_USER_SIZE)
      if (!sane || BigInt(fileSize) < 4096n + size) assert.ok(r instanceof CorruptionError, String(r))
      else assert.equal((r as RegionHeader).userSize, Number(size))
    }), { numRuns: 2000 })
  })
})
