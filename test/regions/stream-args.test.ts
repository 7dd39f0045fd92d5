/**
 * Argument checks of Region.appendStream (regions/stream-args.ts inv. S1, S2): a start
 * no grow could ever reach, or a gap larger than 16 MiB, is InvalidArgumentError before
 * anything is written (no stream, the file's size and bytes unchanged).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Region } from '../../regions/region.js'
import { MAX_USER_SIZE } from '../../regions/header.js'
import { MAX_STREAM_GAP } from '../../regions/stream-args.js'
import { InvalidArgumentError } from '../../regions/errors.js'
import { fileDigest, useTempDirs } from './fixtures/helpers.js'
import { pattern } from './fixtures/pattern.js'

const tempDir = useTempDirs('pmem-stream-args-')

describe('Region.appendStream argument checks (inv. S1, S2)', () => {
  it('refuses a gap above 16 MiB and a start no grow could reach, writing nothing', async () => {
    const path = join(tempDir(), 'r.pm')
    const region = Region.open(path, { size: 2 * 4096 })
    region.bytes.set(pattern(8192, 3))
    region.flush()
    const before = fileDigest(path)
    const end = region.reservedEnd
    const refused = (at: number, block: number, re: RegExp): void => {
      assert.throws(() => region.appendStream(at, block), (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError, String(e))
        assert.ok(e.message.startsWith(`Cannot open an append stream on region "${path}": at ${at} `), e.message)
        assert.match(e.message, re)
        return true
      })
    }
    refused(end + MAX_STREAM_GAP + 1, 512, /is 16777217 bytes past the end of the reserved space \(8192\); a stream zero-fills at most 16777216 bytes/)
    refused(2 ** 31, 4096, /ends past the largest user area \(2147479552 bytes\), so no grow could ever reach it; nothing was written/)
    refused(MAX_USER_SIZE - 100, 4096, /ends past the largest user area/)
    refused(2 ** 40, 1, /ends past the largest user area/)
    assert.equal(region.reservedEnd, end, 'no stream was opened')
    assert.deepEqual(fileDigest(path), before, 'nothing was written')

    const s = region.appendStream(end + 3 * 4096 + 1000, 512) // a gap below the bound is zero-filled as before
    assert.ok(s !== null)
    s.write(pattern(700, 4))
    assert.ok((await s.end()) !== null)
    region.grow(end + 5 * 4096)
    assert.deepEqual(region.unsafeBytes().slice(end + 3 * 4096 + 1000, end + 3 * 4096 + 1700), pattern(700, 4))
    region.close()
  })
})
