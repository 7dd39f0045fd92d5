// Long torture run, outside npm test: `npm run torture -- <seconds>` (default 120).
import { torture } from './torture-kit.js'

const seconds = Number(process.argv[2] ?? 120)
const end = Date.now() + seconds * 1000
let rounds = 0, total = 0
while (Date.now() < end) {
  total = await torture(10, ['sync', 'group', 'mixed'])
  rounds += 10
  console.log(`${rounds} kill rounds passed (${total} transfers in the last file)`)
}
