// Process-kill torture test in npm test: 24 rounds of SIGKILL during bank transfers, in
// sync, group and mixed durabilities (see torture-kit.ts; longer runs: npm run torture).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { torture } from './torture-kit.js'

test('torture: SIGKILL during bank transfers never loses a durable transfer nor breaks the sum', async () => {
  const total = await torture(24, ['sync', 'group', 'mixed'])
  assert.ok(total > 100, `the children committed only ${total} transfers; the test did not exercise much`)
})
