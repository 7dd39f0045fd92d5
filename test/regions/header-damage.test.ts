/**
 * Damaged and foreign files at the file level (regions/header.ts inv. H1-H3,
 * region-file.ts inv. C4-C5): bit flips in the header, a zeroed header sector, truncation
 * at every interesting length, foreign files (random bytes, text, empty, shorter than a
 * header), a header announcing more than the file holds, a newer version. Each must be a
 * typed error naming the file from a writable open (with and without a size), a
 * read-only open and Region.check, and leave the file byte-for-byte unchanged with no
 * lock directory or other file left behind. (header.test.ts fuzzes the decoder itself.)
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Region } from '../../regions/region.js'
import { crc32c } from '../../regions/checksum.js'
import { HEADER_SIZE } from '../../regions/header.js'
import { CorruptionError, NotARegionError, PmemError, UnsupportedVersionError } from '../../regions/errors.js'
import { fileDigest, useTempDirs } from './fixtures/helpers.js'
import { pattern } from './fixtures/pattern.js'

const tempDir = useTempDirs('pmem-header-damage-')
const PAGES = 4
const FILE_SIZE = HEADER_SIZE + PAGES * 4096

type ErrorClass = new (...a: never[]) => PmemError

interface Damage {
  readonly what: string
  readonly expect: ErrorClass
  readonly message: RegExp
  /** Turns the bytes of a good region file into the damaged file's bytes. */
  readonly make: (good: Buffer) => Uint8Array
}

function flipBit(bit: number): (good: Buffer) => Uint8Array {
  return good => { const b = Buffer.from(good); b[bit >> 3]! ^= 1 << (bit & 7); return b }
}

/** Rewrites a u32/u64 header field and reseals the CRC: a well-formed header that says something else. */
function resealed(offset: number, value: bigint, width: 4 | 8): (good: Buffer) => Uint8Array {
  return good => {
    const b = Buffer.from(good)
    if (width === 4) b.writeUInt32LE(Number(value), offset); else b.writeBigUInt64LE(value, offset)
    b.writeUInt32LE(crc32c(b, 0, 60), 60)
    return b
  }
}

const DAMAGES: Damage[] = [
  { what: 'a flipped bit in the magic', expect: NotARegionError, message: /wrong magic/, make: flipBit(3 * 8 + 1) },
  { what: 'a flipped bit in the version', expect: CorruptionError, message: /checksum mismatch/, make: flipBit(8 * 8) },
  { what: 'a flipped bit in the user-area size', expect: CorruptionError, message: /checksum mismatch/, make: flipBit(17 * 8 + 4) },
  { what: 'a flipped bit in the id', expect: CorruptionError, message: /checksum mismatch/, make: flipBit(30 * 8 + 7) },
  { what: 'a flipped bit in the creation time', expect: CorruptionError, message: /checksum mismatch/, make: flipBit(50 * 8) },
  { what: 'a flipped bit in the checksum', expect: CorruptionError, message: /checksum mismatch/, make: flipBit(62 * 8 + 2) },
  { what: 'a zeroed header sector', expect: NotARegionError, message: /wrong magic/, make: good => { const b = Buffer.from(good); b.fill(0, 0, 512); return b } },
  { what: 'a header sector of 0xff', expect: NotARegionError, message: /wrong magic/, make: good => { const b = Buffer.from(good); b.fill(0xff, 0, 512); return b } },
  { what: 'a zeroed checksum only', expect: CorruptionError, message: /checksum mismatch \(stored 0x00000000/, make: good => { const b = Buffer.from(good); b.fill(0, 60, 64); return b } },
  { what: 'truncation to nothing', expect: NotARegionError, message: /empty/, make: good => good.subarray(0, 0) },
  { what: 'truncation inside the magic', expect: CorruptionError, message: /truncated to 5 bytes/, make: good => good.subarray(0, 5) },
  { what: 'truncation inside the header struct', expect: CorruptionError, message: /header is truncated \(40 of 64 bytes\)/, make: good => good.subarray(0, 40) },
  { what: 'truncation after the header struct', expect: CorruptionError, message: /announces 20480 bytes .* file has 64/, make: good => good.subarray(0, 64) },
  { what: 'truncation to the header page', expect: CorruptionError, message: /announces 20480 bytes .* file has 4096/, make: good => good.subarray(0, HEADER_SIZE) },
  { what: 'truncation inside the user area', expect: CorruptionError, message: /announces 20480 bytes .* file has 20479/, make: good => good.subarray(0, FILE_SIZE - 1) },
  { what: 'a header announcing more than the file holds', expect: CorruptionError, message: /announces 36864 bytes .* file has 20480/, make: resealed(16, 8n * 4096n, 8) },
  { what: 'an impossible user-area size', expect: CorruptionError, message: /impossible user-area size 4097/, make: resealed(16, 4097n, 8) },
  { what: 'a newer format version', expect: UnsupportedVersionError, message: /format version 2 is newer/, make: resealed(8, 2n, 4) },
  { what: 'unknown feature flags', expect: UnsupportedVersionError, message: /features unknown to this version/, make: resealed(40, 1n, 4) },
  { what: 'a foreign file of random bytes', expect: NotARegionError, message: /wrong magic/, make: () => Uint8Array.of(0x7f, ...randomBytes(3 * 4096 - 1)) },
  { what: 'a text file', expect: NotARegionError, message: /wrong magic number "just som"/, make: () => Buffer.from('just some text, not a region\n'.repeat(300)) },
  { what: 'a foreign file shorter than a header', expect: NotARegionError, message: /wrong magic/, make: () => Buffer.from('#!/bin/sh\necho hi\n') },
  { what: 'an empty file', expect: NotARegionError, message: /the file is empty/, make: () => new Uint8Array(0) },
]

/** A good region file's bytes (with data in its user area). */
function goodRegionBytes(): Buffer {
  const path = join(tempDir(), 'good.pm')
  const r = Region.open(path, { size: PAGES * 4096 })
  r.bytes.set(pattern(PAGES * 4096, 7))
  r.close()
  return fs.readFileSync(path)
}

const ENTRY_POINTS: Array<[string, (path: string) => unknown]> = [
  ['a writable open', path => Region.open(path).close()],
  ['a writable open with a size', path => Region.open(path, { size: 8 * 4096 }).close()],
  ['a read-only open', path => Region.open(path, { readOnly: true }).close()],
  ['Region.check', path => Region.check(path)],
]

describe('damaged and foreign region files (inv. H1-H3, C4)', () => {
  const good = goodRegionBytes()
  for (const damage of DAMAGES) {
    it(`${damage.what}: ${damage.expect.name} from every open and check, the file unchanged`, () => {
      const dir = tempDir()
      const path = join(dir, 'r.pm')
      fs.writeFileSync(path, damage.make(good))
      const before = fileDigest(path)
      for (const [how, run] of ENTRY_POINTS) {
        assert.throws(() => run(path), (e: unknown) => {
          assert.ok(e instanceof damage.expect, `${how}: expected ${damage.expect.name}, got ${String(e)}`)
          assert.ok(e.message.includes(`"${path}"`), `${how}: the message names the file: ${e.message}`)
          assert.match(e.message, damage.message, how)
          return true
        })
        assert.deepEqual(fileDigest(path), before, `${how} left the file unchanged`)
        assert.deepEqual(fs.readdirSync(dir), ['r.pm'], `${how} left no lock directory or other file`)
      }
    })
  }

  it('damage to the reserved part of the header page (bytes 64 to 4096) is ignored, as the format says', () => {
    const path = join(tempDir(), 'r.pm')
    const b = Buffer.from(good)
    b.fill(0xa5, 512, 1024)
    fs.writeFileSync(path, b)
    for (const [, run] of ENTRY_POINTS.filter(([how]) => how !== 'a writable open with a size')) run(path)
    assert.deepEqual(fs.readFileSync(path), b)
  })
})
