/**
 * The demo's verdict after a crash: reopens the bank's file (recovery), checks every invariant
 * of bank.ts against the last transfer the child acknowledged, and runs `pm.check()`.
 */
import { performance } from 'node:perf_hooks'
import { open, type PersistentMemory } from '../index.js'
import { ACCOUNTS, KEEP, OPENING, bank, lastTransfer, type Bank } from './bank.js'

/** What one reopening found; `problems` is empty exactly when everything holds. */
export interface Verdict {
  problems: string[]
  /** The last transfer found (the largest key of `transfers`). */
  last: number
  /** Sum of all balances, and the number of accounts. */
  total: number
  accounts: number
  /** Milliseconds spent in `open` (recovery included) and in `pm.check()`. */
  openMs: number
  checkMs: number
  /** Collections `pm.check()` validated. */
  collections: number
  /** The last three transfers found, newest first. */
  recent: Array<{ n: number; from: string; to: string; amount: number; at: number }>
}

/** Reopens `file` and checks it holds transfer `acked` and everything before it (inv. 2, 3). */
export function verify(file: string, acked: number): Verdict {
  const t0 = performance.now()
  const pm = open(file)
  try { return verifyPool(pm, acked, performance.now() - t0) } finally { pm.close() }
}

/** Checks that the open pool holds transfer `acked` and everything before it (inv. 2, 3). */
export function verifyPool(pm: PersistentMemory, acked: number, openMs: number): Verdict {
  const b = bank(pm)
  const last = lastTransfer(b)
  const problems: string[] = []
  if (last < acked) problems.push(`transfer #${acked} was acknowledged, but the last transfer found is #${last}`)
  checkTransfers(b, last, problems)
  const { total, accounts } = checkMoney(b, problems)
  const t1 = performance.now()
  const report = pm.check()
  const checkMs = performance.now() - t1
  problems.push(...report.problems.map(p => `check(): ${p}`))
  const recent = [...b.transfers.getRange({ reverse: true, limit: 3 })].map(([n, e]) => ({ n, ...e }))
  return { problems, last, total, accounts, openMs, checkMs, collections: report.collections.length, recent }
}

/** Inv. 2: transfers max(1, last - KEEP + 1) .. last, one amount per transfer. */
function checkTransfers(b: Bank, last: number, problems: string[]): void {
  let expect = Math.max(1, last - KEEP + 1)
  for (const n of b.transfers.keys()) {
    if (n !== expect) { problems.push(`transfers: expected #${expect} next, found #${n}`); break }
    expect++
  }
  if (expect !== last + 1) problems.push(`transfers: the kept ones end at #${expect - 1}, not #${last}`)
  const length = b.amounts.length
  if (length !== last) problems.push(`amounts: ${length} recorded for ${last} transfers`)
  else if (last > 0 && b.amounts.get(last - 1) !== b.transfers.get(last)!.amount) problems.push(`amounts: the last amount is not transfer #${last}'s`)
}

/** Inv. 3: ACCOUNTS accounts, none negative, summing to ACCOUNTS * OPENING. */
function checkMoney(b: Bank, problems: string[]): { total: number; accounts: number } {
  let total = 0, accounts = 0
  for (const [name, a] of b.accounts) {
    if (a.balance < 0) problems.push(`account ${name} has a negative balance ${a.balance}`)
    total += a.balance
    accounts++
  }
  if (accounts !== ACCOUNTS) problems.push(`${accounts} accounts, expected ${ACCOUNTS}`)
  if (total !== ACCOUNTS * OPENING) problems.push(`the balances sum to ${total}, expected ${ACCOUNTS * OPENING}`)
  return { total, accounts }
}
