/**
 * The container's tables indexed by id and its record buffers live in SharedArrayBuffer
 * memory, which V8 does not count as external memory (by-id.ts): counted, every 64 MiB of
 * them started a full marking of the whole heap, four during the first point of the
 * performance graph, none of which could free anything. These tests grow each table to a
 * million ids (and write 16 MiB of records) and check that V8's external-memory count
 * (`v8.getHeapStatistics().external_memory`, the one its "external memory pressure" trigger
 * reads) grew by far less than the memory the tables hold: ArrayBuffer tables would add
 * about 40 MB here.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import { ShadowStore } from '../../../src/container/shadow.js'
import { RefStore, IdList } from '../../../src/container/refs.js'
import { DirtySet } from '../../../src/container/dirty.js'
import { Verifier } from '../../../src/container/verify.js'
import { DateTable } from '../../../src/container/dates.js'
import { PendingQueue } from '../../../src/container/pending.js'
import { ByteWriter, RecordList } from '../../../src/container/writer.js'
import { SHARED_MIN, sharedI32 } from '../../../src/container/by-id.js'

const IDS = 1 << 20
const MiB = 1 << 20
/** What may be counted besides the large tables: their first doublings below SHARED_MIN (by-id.ts), the test runner. */
const SLACK = 8 * MiB

function external(): number { return v8.getHeapStatistics().external_memory }

test('tables indexed by id grow in memory V8 does not count as external (by-id.ts)', () => {
  const before = external()
  const shadow = new ShadowStore()
  const refs = new RefStore()
  const dirty = new DirtySet()
  const verifier = new Verifier()
  const dates = new DateTable()
  const pending = new PendingQueue()
  const list = new IdList()
  for (let id = 1; id < IDS; id++) {
    shadow.begin(); shadow.pushNumber(id + 0.5); shadow.end(id, 1)
    list.n = 0; list.push(id - 1)
    refs.set(id, list.a, 0, list.n)
    dirty.mark(id); dirty.setPlain(id, true); dirty.setOrdinary(id)
    verifier.add(id)
    dates.set(id, id)
    pending.push(id, 1, 0, -1)
  }
  const grown = external() - before
  assert.ok(grown < SLACK, `external memory grew by ${(grown / MiB).toFixed(1)} MiB for tables of ${IDS} ids (want < ${SLACK / MiB} MiB)`)
  // the tables hold what was written
  assert.equal(shadow.kind[IDS - 1], 1)
  assert.equal(shadow.nums[shadow.numAt[IDS - 1]], IDS - 1 + 0.5)
  assert.equal(refs.pool[refs.start[IDS - 1]], IDS - 2)
  assert.ok(verifier.has(IDS - 1) && dirty.plain[IDS - 1] === 1 && dirty.ordinary[IDS - 1] === 1)
  let popped = 0
  while (pending.pop()) { assert.equal(pending.id, ++popped) }
  assert.equal(popped, IDS - 1)
})

test('record buffers and record lists are in memory V8 does not count as external (writer.ts)', () => {
  const before = external()
  const w = new ByteWriter(1 << 16)
  w.track = new RecordList()
  const sealed: Buffer[] = []
  w.onSeal = (b) => { sealed.push(b) }
  const text = 'x'.repeat(200)
  let id = 1
  while (w.length < 16 * MiB) { const at = w.beginRecord(id++); w.str(text); w.endRecord(at) }
  const grown = external() - before
  assert.ok(grown < SLACK, `external memory grew by ${(grown / MiB).toFixed(1)} MiB for ${(w.length / MiB).toFixed(1)} MiB of records (want < ${SLACK / MiB} MiB)`)
  assert.ok(sealed.length >= 3, 'the records filled several buffers')
  for (const b of sealed.slice(1)) assert.ok(b.buffer instanceof SharedArrayBuffer, 'a sealed 4 MiB buffer is shared memory (stream.ts shares it with the flush thread)')
  assert.equal(w.track.n, id - 1)
})

test('small tables and buffers stay ordinary ArrayBuffers (counted, collected as usual: a program of many tiny points)', () => {
  assert.ok(new ByteWriter(1 << 16).buf.buffer instanceof ArrayBuffer, "an encoder's first record buffer")
  assert.ok(new RecordList().ids.buffer instanceof ArrayBuffer, "an encoder's record list")
  assert.ok(new ShadowStore().kind.buffer instanceof ArrayBuffer, 'a new table by id')
  assert.ok(sharedI32(SHARED_MIN / 4).buffer instanceof SharedArrayBuffer, 'a table of SHARED_MIN bytes')
  assert.ok(sharedI32(SHARED_MIN / 4 - 1).buffer instanceof ArrayBuffer, 'a table just below SHARED_MIN')
})
