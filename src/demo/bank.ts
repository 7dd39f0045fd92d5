/**
 * The demo's bank (`npm run demo`): accounts in a hash map, the recent transfers in a sorted
 * map, every transfer's amount in a vector, all three changed together by one durable
 * transaction per transfer. The invariants `verify` checks after each SIGKILL:
 *
 * 1. Transfer n is one `sync` transaction: it moves an amount between two accounts, puts
 *    event n in `transfers`, deletes event n - KEEP and pushes the amount on `amounts`. The
 *    child acknowledges n (prints it) only after that transaction has returned.
 * 2. So the last transfer is the largest key of `transfers`, `amounts.length` equals it, the
 *    keys of `transfers` are exactly max(1, n - KEEP + 1) .. n, and `amounts[n - 1]` is
 *    transfer n's amount. Every acknowledged transfer is at most the last one found.
 * 3. Money only moves: there are always ACCOUNTS accounts, none negative, and their balances
 *    sum to ACCOUNTS * OPENING (closing an account moves all of it to a new account in the
 *    same transaction).
 */
import { open, t, type PersistentMemory } from '../index.js'

export const ACCOUNTS = 100
export const OPENING = 1000
/** How many recent transfers `transfers` keeps (older ones are deleted: the B+tree merges). */
export const KEEP = 2000
/** Every CLOSE_EVERY-th transfer closes the payer's account into a new one (hash map deletes). */
export const CLOSE_EVERY = 50

const OWNERS = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Leslie', 'Tony']

export const Account = t.struct({ owner: t.string, balance: t.f64, transfers: t.u32 })
export const Transfer = t.struct({ at: t.f64, from: t.string, to: t.string, amount: t.f64 })

/** The bank's three collections, created on first use and found again by name. */
export function bank(pm: PersistentMemory) {
  return {
    accounts: pm.hashMap('accounts', t.string, Account),
    transfers: pm.sortedMap('transfers', t.u32, Transfer),
    amounts: pm.vector('amounts', t.f64),
  }
}
export type Bank = ReturnType<typeof bank>

/** Creates `file` with the opening accounts. */
export function createBank(file: string): void {
  const pm = open(file, { size: 16 << 20, maxSize: 256 << 20 })
  try { openAccounts(pm) } finally { pm.close() }
}

/** Opens ACCOUNTS accounts of OPENING each, in one transaction. */
export function openAccounts(pm: PersistentMemory): void {
  const b = bank(pm)
  pm.transaction(() => {
    for (let i = 0; i < ACCOUNTS; i++) b.accounts.put(`acct-${i}`, { owner: OWNERS[i % OWNERS.length]!, balance: OPENING, transfers: 0 })
  })
}

/** The number of the last committed transfer: the largest key of `transfers` (0 before any). */
export function lastTransfer(b: Bank): number {
  for (const [n] of b.transfers.getRange({ reverse: true, limit: 1 })) return n
  return 0
}

/**
 * Runs transfer `n` as one sync transaction (inv. 1); durable when this returns. `names` are
 * the open accounts' keys, updated when the transfer closes an account.
 */
export function transfer(pm: PersistentMemory, b: Bank, names: string[], n: number): void {
  const i = (Math.random() * names.length) | 0
  let j = (Math.random() * (names.length - 1)) | 0
  if (j >= i) j++
  const from = names[i]!, closing = n % CLOSE_EVERY === 0
  const to = closing ? `acct-${ACCOUNTS + n / CLOSE_EVERY - 1}` : names[j]!
  pm.transaction(() => {
    const a = b.accounts.get(from)!
    const amount = closing ? a.balance : Math.min(a.balance, 1 + ((Math.random() * 50) | 0))
    if (closing) {
      b.accounts.delete(from)
      b.accounts.put(to, { owner: a.owner, balance: amount, transfers: 1 })
    } else {
      const c = b.accounts.get(to)!
      b.accounts.put(from, { ...a, balance: a.balance - amount, transfers: a.transfers + 1 })
      b.accounts.put(to, { ...c, balance: c.balance + amount, transfers: c.transfers + 1 })
    }
    b.transfers.put(n, { at: Date.now(), from, to, amount })
    if (n > KEEP) b.transfers.delete(n - KEEP)
    b.amounts.push(amount)
  })
  if (closing) names[i] = to
}
