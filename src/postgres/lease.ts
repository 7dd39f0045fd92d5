/**
 * The writer's lease on a container (pmem_containers' lease columns, schema.ts): one writer
 * per container across all machines. Times are the database's clock (`now()`), so the
 * machines' clocks never matter.
 *
 * | state of the row | acquire by writer W | renew / commit by W (generation g) |
 * | --- | --- | --- |
 * | free (holder null) | takes it: generation + 1 | fails: lost |
 * | held by W, generation g | takes it again (W's earlier open did not release it): generation + 1 | renews |
 * | held by another, not expired | ContainerLockedError naming the holder | fails: lost (LeaseLostError) |
 * | held by another, expired | takes it over: generation + 1 (the old holder is fenced) | fails: lost |
 *
 * Fencing (pg inv. 4): every commit renews the lease with `WHERE lease_generation = g`
 * inside its own transaction (commit.ts), so a writer whose lease was taken over can never
 * commit, however long it was paused. An expired lease nobody took over still renews: the
 * generation, not the clock, decides.
 */
import { ContainerLockedError, RegionNotFoundError } from '../../regions/index.js'
import type { Queryable } from './pg.js'
import type { Tables } from './schema.js'

/** Takes the lease of container `id` for `holder`; resolves with its generation (the fencing token). */
export async function acquireLease(db: Queryable, t: Tables, id: number, holder: string, leaseMs: number, where: string): Promise<number> {
  const r = await db.query(
    `UPDATE ${t.containers} SET lease_holder = $2, lease_generation = lease_generation + 1, lease_expires = now() + $3 * interval '1 millisecond'
     WHERE id = $1 AND (lease_holder IS NULL OR lease_expires < now() OR lease_holder = $2)
     RETURNING lease_generation::float8 AS generation`,
    [id, holder, leaseMs])
  if (r.rowCount === 1) return r.rows[0].generation
  const h = await db.query(`SELECT lease_holder, lease_expires FROM ${t.containers} WHERE id = $1`, [id])
  if (h.rows.length === 0) throw new RegionNotFoundError(`Cannot open container "${where}" for writing: it was deleted while this open took its lease; open it again`)   // pg-hosted inv. P1
  const holderNow = h.rows[0]?.lease_holder as string | undefined
  const expires = h.rows[0]?.lease_expires as Date | undefined
  throw new ContainerLockedError(`Cannot open container "${where}" for writing: it is held by "${holderNow}" until ${expires?.toISOString()} (its lease, renewed while it runs); close that writer, wait for its lease to expire, or open with { readOnly: true }`, holderNow, expires)
}

/** Renews the lease; false if it was taken over (this writer is fenced). */
export async function renewLease(db: Queryable, t: Tables, id: number, holder: string, generation: number, leaseMs: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE ${t.containers} SET lease_expires = now() + $4 * interval '1 millisecond'
     WHERE id = $1 AND lease_holder = $2 AND lease_generation = $3`,
    [id, holder, generation, leaseMs])
  return r.rowCount === 1
}

/** Gives the lease up (only if this writer still holds it). */
export async function releaseLease(db: Queryable, t: Tables, id: number, holder: string, generation: number): Promise<void> {
  await db.query(
    `UPDATE ${t.containers} SET lease_holder = NULL, lease_expires = NULL WHERE id = $1 AND lease_holder = $2 AND lease_generation = $3`,
    [id, holder, generation])
}
