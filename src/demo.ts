/**
 * The quick-start demo (`npm run demo`): a persistent region, a durable transaction, and a
 * crash-and-recover: a child process doing bank transfers is killed with SIGKILL mid-run,
 * and reopening the file finds every transfer it reported durable and the money intact.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { open, check, t } from './index.js'

const ACCOUNTS = 100

function declare(pm: ReturnType<typeof open>) {
  return { accounts: pm.persistent('accounts', t.array(t.f64, ACCOUNTS)), transfers: pm.persistent('transfers', t.u64) }
}

/** Child: transfer money until killed, printing the number of each durable transfer. */
function child(file: string): void {
  const pm = open(file)
  const { accounts, transfers } = declare(pm)
  for (;;) {
    const n = pm.transaction(tx => {
      const a = (Math.random() * ACCOUNTS) | 0, b = (Math.random() * ACCOUNTS) | 0
      tx.writeF64(accounts.offset + 8 * a, tx.readF64(accounts.offset + 8 * a) - 7)
      tx.writeF64(accounts.offset + 8 * b, tx.readF64(accounts.offset + 8 * b) + 7)
      const next = tx.readBigU64(transfers.offset) + 1n
      tx.writeBigU64(transfers.offset, next)
      return next
    })
    process.stdout.write(`${n}\n`)
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-demo-'))
  const file = path.join(dir, 'bank.pm')
  console.log(`1. Region: creating ${file} (16 MiB, blocks allocated up front, fsynced)`)
  let pm = open(file, { size: 16 << 20 })
  const { accounts, transfers } = declare(pm)
  console.log(`   region id ${pm.region.id}, user area ${pm.region.size} bytes; variables: ${pm.variables().map(v => `${v.name}: ${v.type}`).join(', ')}`)

  console.log('2. Durable transaction: give every account 1000, then move 250 from account 0 to 1')
  pm.transaction(tx => { for (let i = 0; i < ACCOUNTS; i++) tx.writeF64(accounts.offset + 8 * i, 1000) })
  pm.transaction(tx => {
    const view = tx.view(accounts)
    view.set(0, view.get(0) - 250)
    view.set(1, view.get(1) + 250)
  })
  console.log(`   account 0 = ${pm.read(tx => tx.readF64(accounts.offset))}, account 1 = ${pm.read(tx => tx.readF64(accounts.offset + 8))} (durable: the commit returned)`)
  pm.close()

  console.log('3. Crash: a child process runs transfers; we kill -9 it after 400 ms')
  const p = spawn(process.execPath, [fileURLToPath(import.meta.url), 'child', file], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  p.stdout.on('data', (d: Buffer) => { out += d.toString() })
  setTimeout(() => p.kill('SIGKILL'), 400)
  await new Promise(resolve => p.on('exit', resolve))
  const reported = Number(out.trim().split('\n').filter(Boolean).pop() ?? 0)
  console.log(`   child killed by SIGKILL; the last transfer it reported durable was #${reported}`)

  console.log('4. Recover: reopen the file (committed transactions replayed, torn ones dropped)')
  pm = open(file)
  const d = declare(pm)
  const [sum, n] = pm.read(tx => {
    let s = 0
    for (let i = 0; i < ACCOUNTS; i++) s += tx.readF64(d.accounts.offset + 8 * i)
    return [s, Number(tx.readBigU64(d.transfers.offset))]
  })
  pm.close()
  const report = check(file)
  console.log(`   recovered ${n} transfers (>= ${reported} reported: ${n >= reported ? 'yes' : 'NO'})`)
  console.log(`   total money ${sum} (expected ${ACCOUNTS * 1000}: ${sum === ACCOUNTS * 1000 ? 'yes' : 'NO'}); check(): ${report.ok ? 'ok' : report.problems.join('; ')}`)
  fs.rmSync(dir, { recursive: true, force: true })
  if (n < reported || sum !== ACCOUNTS * 1000 || !report.ok) process.exit(1)
}

if (process.argv[2] === 'child') child(process.argv[3]!)
else await main()
