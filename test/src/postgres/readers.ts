/**
 * (Imported by postgres.test.ts, to share its cluster.) Readers refreshing beside a writer
 * that appends, rewrites, compacts and is SIGKILLed (readers-kit.ts; longer runs:
 * `npm run torture -- <seconds> pg`).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { kit, skip } from './pg-kit.js'
import { readersBesideWriter } from './readers-kit.js'

test('readers refreshing beside a writer that appends, rewrites, compacts and is SIGKILLed: always a whole version, never an error', { skip }, async () => {
  const { moved, versions } = await readersBesideWriter(() => kit.connect(), kit.cluster.url, 'readers', 300)
  assert.ok(moved > 10 && versions > 10, `the readers moved ${moved} times, to version ${versions}`)
})
