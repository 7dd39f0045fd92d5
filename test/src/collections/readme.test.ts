// The README's first example (a tmp file instead of app.pm), so the documentation stays true.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, t } from '../../../src/index.js'

test('README example: collections', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-readme-'))
  try {
    const file = path.join(dir, 'app.pm')
    const pm = open(file, { size: 64 << 20, maxSize: 1 << 30 })
    const User = t.struct({ name: t.string, age: t.u32, tags: t.string })
    const users = pm.hashMap('users', t.string, User)
    const events = pm.sortedMap('events', t.f64, t.string)
    const log = pm.vector('log', t.f64)
    users.put('ada', { name: 'Ada', age: 36, tags: 'math' })
    assert.deepEqual(users.get('ada'), { name: 'Ada', age: 36, tags: 'math' })
    pm.transaction(() => {
      users.delete('bob'); events.put(Date.now(), 'bob left'); log.push(1.5)
    })
    const seen: string[] = []
    for (const [, what] of events.getRange({ start: 0, end: Infinity, limit: 100 })) seen.push(what)
    assert.deepEqual(seen, ['bob left'])
    await users.put('cy', { name: 'Cy' }, { durability: 'group' })
    const count = pm.persistent('count', t.u64)
    pm.transaction(tx => tx.writeBigU64(count.offset, tx.readBigU64(count.offset) + 1n))
    pm.close()
    const again = open(file)
    assert.deepEqual(again.hashMap('users', t.string, User).get('cy'), { name: 'Cy', age: 0, tags: '' })
    assert.deepEqual([...again.vector('log', t.f64)], [1.5])
    again.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
