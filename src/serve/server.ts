/**
 * The TCP side of `pmem serve`: connections, the batching of mutations into transactions, and
 * the rule that a reply acknowledging a change leaves only once the change is durable.
 *
 * Invariants (cited as "serve inv. N"):
 *   1. Replies leave each connection in the order of its requests: every read from a socket
 *      gets a slot in the connection's queue, and a slot is written only when it and every
 *      slot before it are ready.
 *   2. A slot holding a mutation becomes ready only when the batch transaction (or batches)
 *      holding its requests returned from `store.batch` (`sync`, `none`) or its promise resolved
 *      (`group`): with `sync` and `group`, every acknowledged change is durable (store inv. 2).
 *   3. Requests that arrive in the same turn of the event loop, from all connections, run in
 *      one transaction (cut into several when their data passes `maxBatchBytes`): one flush
 *      for all of them. A connection's requests never run before its earlier ones; reads from a
 *      connection with no change earlier in the turn run before the transaction, outside it
 *      (they are concurrent with the turn's changes, so either order is a valid one).
 *   4. A batch that fails (its transaction aborted, nothing applied) is run again one request
 *      per transaction, so only the request that cannot be done gets `SERVER_ERROR`.
 *   5. A client that disconnects mid-request changes nothing: a request acts only once all its
 *      bytes arrived (proto inv. 1).
 *
 *   6. A connection speaks the binary protocol when its first byte is 0x80 (memcached's rule),
 *      the text protocol otherwise; both run through the same handlers (bin inv. 2).
 *
 *   7. Every batch that changes items first reclaims dead items, in that batch's transaction (cmd
 *      inv. 5c), with a budget of RECLAIM_MIN or twice its changing requests, whichever is
 *      more: the sweep outpaces the writes, so a cache of short-lived items stops growing, and
 *      the work per request stays bounded. A request that fails for lack of space alone runs
 *      one reclaiming batch of OOM_RECLAIM items first and is tried once more before its
 *      `SERVER_ERROR out of memory`.
 *
 * Slot states: waiting (requests queued or running, or a transaction not yet durable)
 * -> ready (replies complete) -> written (removed from the queue).
 */
import net from 'node:net'
import { RequestParser, type Request } from './protocol.js'
import { BinaryParser, binaryFailure, binaryMutates, runBinary, type BinRequest } from './binary.js'
import { Handlers } from './handlers.js'
import type { ItemStore } from './store.js'

/** Options of {@link startServer}. */
export interface ServeOptions {
  store: ItemStore
  port?: number
  host?: string
  /** Largest item in bytes (default 1 MiB, as memcached's -I). */
  itemSizeMax?: number
  /** Data bytes above which a turn's requests are cut into several transactions (default 4 MiB). */
  maxBatchBytes?: number
  version?: string
  /** Called with each connection's replies just before they are written (tests take crash images there). */
  onWrite?: (bytes: Buffer) => void
}

/** A running server. */
export interface MemcachedServer {
  readonly port: number
  readonly host: string
  readonly handlers: Handlers
  /** Stops accepting, closes every connection, waits for pending durability, closes the store. */
  close(): Promise<void>
}

interface Slot { out: Buffer[]; pending: number; queued: boolean; closeAfter: boolean }
/** The parser is chosen by the connection's first byte: 0x80 is the binary protocol. */
interface Conn { socket: net.Socket; parser: RequestParser | BinaryParser | null; queue: Slot[] }
interface Work { conn: Conn; slot: Slot; req: Request | BinRequest }

const HIGH_WATER = 4 << 20
/** Least items a changing batch reclaims (serve inv. 7). */
const RECLAIM_MIN = 32
/** Items reclaimed before a request that ran out of space is tried again (serve inv. 7). */
const OOM_RECLAIM = 1024

/** Starts serving the memcached text protocol over `opts.store`. */
export async function startServer(opts: ServeOptions): Promise<MemcachedServer> {
  const store = opts.store
  const itemSizeMax = opts.itemSizeMax ?? 1 << 20
  const maxBatchBytes = opts.maxBatchBytes ?? 4 << 20
  const conns = new Set<Conn>()
  let total = 0
  const handlers = new Handlers(store, {
    version: opts.version ?? '1.6.0',   // digits only: clients parse it (the store's name is in stats)
    startedAt: Math.floor(Date.now() / 1000),
    connections: () => ({ current: conns.size, total }),
    itemSizeMax,
  })
  const mutates = (req: Request | BinRequest): boolean => req.kind === 'binary' ? binaryMutates(req, Handlers.isMutation) : Handlers.isMutation(req)
  const run = (req: Request | BinRequest, out: Buffer[]): void => { if (req.kind === 'binary') runBinary(handlers, store, req, out); else handlers.run(req, out) }
  let work: Work[] = []
  let scheduled = false
  const inFlight = new Set<Promise<void>>()

  /** Writes the ready slots at the head of a connection's queue (serve inv. 1). */
  function drain(conn: Conn): void {
    const s = conn.socket
    while (conn.queue.length > 0 && (conn.queue[0] as Slot).pending === 0 && !(conn.queue[0] as Slot).queued) {
      const slot = conn.queue.shift() as Slot
      if (s.destroyed) continue
      if (slot.out.length > 0) {
        const bytes = slot.out.length === 1 ? slot.out[0] as Buffer : Buffer.concat(slot.out)
        opts.onWrite?.(bytes)
        s.write(bytes)
      }
      if (slot.closeAfter) { s.end(); return }
    }
  }

  /** Runs every request queued in this turn, in transactions (serve inv. 3). */
  function runTurn(): void {
    scheduled = false
    const items = work
    work = []
    let start = 0
    let bytes = 0
    for (let i = 0; i < items.length; i++) {
      const r = (items[i] as Work).req
      bytes += r.kind === 'store' ? r.data.length + 64 : 64
      if (bytes >= maxBatchBytes || i === items.length - 1) {
        runGroup(items.slice(start, i + 1))
        start = i + 1
        bytes = 0
      }
    }
    // only now may a slot whose requests spread over several groups be written (serve inv. 1)
    const touched = new Set<Conn>()
    for (const w of items) { w.slot.queued = false; touched.add(w.conn) }
    for (const c of touched) drain(c)
  }

  /**
   * Reads from connections with no change earlier in `group` run first, outside the transaction,
   * and their slots need not wait for its flush; the rest run in it (serve inv. 3).
   */
  function runGroup(group: Work[]): void {
    const dirty = new Set<Conn>()
    const early: Work[] = []
    const late: Work[] = []
    for (const w of group) {
      if (mutates(w.req) || dirty.has(w.conn)) { dirty.add(w.conn); late.push(w) } else early.push(w)
    }
    if (early.length > 0) runBatch(early)
    if (late.length > 0) runBatch(late)
  }

  /** One transaction for `group` (none when it only reads); its slots wait until it is durable (serve inv. 2). */
  function runBatch(group: Work[]): void {
    const starts = new Map<Slot, number>()
    for (const w of group) {
      w.slot.pending++
      if (!starts.has(w.slot)) starts.set(w.slot, w.slot.out.length)
    }
    const done = (): void => {
      const touched = new Set<Conn>()
      for (const w of group) { w.slot.pending--; touched.add(w.conn) }
      for (const c of touched) drain(c)
    }
    const exec = (): void => {
      let changes = 0
      for (const w of group) if (mutates(w.req)) changes++
      handlers.batchOpen = true   // a dead item a request finds is deleted in this batch (cmd inv. 5a)
      try {
        handlers.reclaim(Math.max(RECLAIM_MIN, 2 * changes))   // serve inv. 7
        for (const w of group) run(w.req, w.slot.out)
      } finally { handlers.batchOpen = false }
    }
    const retry = (): Promise<void> => {
      handlers.aborted()
      for (const [slot, n] of starts) slot.out.length = n   // the failed attempt's replies go
      return retrySingly(group)
    }
    if (!group.some(w => mutates(w.req))) { exec(); done(); return }
    let r: void | Promise<void>
    try {
      r = store.batch(exec)
    } catch {
      track(retry().then(done, done))
      return
    }
    if (r instanceof Promise) track(r.then(done, () => retry().then(done, done)))
    else done()
  }

  function track(p: Promise<void>): void {
    inFlight.add(p)
    void p.finally(() => inFlight.delete(p))
  }

  /** Runs `fn` in a batch of its own with batchOpen set (cmd inv. 5a). */
  async function single(fn: () => void): Promise<void> {
    const r = store.batch(() => {
      handlers.batchOpen = true
      try { fn() } finally { handlers.batchOpen = false }
    })
    if (r instanceof Promise) await r
  }

  /** Runs a failed group one request per transaction (serve inv. 4); out of space, reclaims and tries once more (serve inv. 7). */
  async function retrySingly(group: Work[]): Promise<void> {
    for (const w of group) {
      const n = w.slot.out.length
      try {
        try {
          await single(() => run(w.req, w.slot.out))
        } catch (err) {
          if ((err as { code?: unknown } | null)?.code !== 'ERR_PMEM_OUT_OF_SPACE') throw err
          handlers.aborted()
          w.slot.out.length = n
          let freed = 0
          try { await single(() => { freed = handlers.reclaim(OOM_RECLAIM) }) } catch { handlers.aborted(); throw err }
          if (freed === 0) throw err
          await single(() => run(w.req, w.slot.out))
        }
      } catch (err) {
        handlers.aborted()
        w.slot.out.length = n
        if (w.req.kind === 'binary') w.slot.out.push(binaryFailure(w.req, outOfSpace(err)))
        else if (!w.req.noreply) w.slot.out.push(Buffer.from(`SERVER_ERROR ${serverError(err, w.req)}\r\n`, 'latin1'))
      }
    }
  }

  /** A socket read: parse, then queue the requests for this turn's transaction. */
  function onData(conn: Conn, chunk: Buffer): void {
    if (chunk.length === 0) return
    conn.parser ??= chunk[0] === 0x80 ? new BinaryParser({ itemSizeMax }) : new RequestParser({ itemSizeMax })
    const reqs: Array<Request | BinRequest> = conn.parser.push(chunk)
    const closing = conn.parser.closed
    if (reqs.length === 0 && !closing) return
    const slot: Slot = { out: [], pending: 0, queued: reqs.length > 0, closeAfter: closing }
    conn.queue.push(slot)
    for (const req of reqs) work.push({ conn, slot, req })
    if (reqs.length === 0) { drain(conn); return }
    if (!scheduled) { scheduled = true; setImmediate(runTurn) }
    if (conn.socket.writableLength > HIGH_WATER) conn.socket.pause()
  }

  const server = net.createServer(socket => {
    const conn: Conn = { socket, parser: null, queue: [] }
    conns.add(conn)
    total++
    socket.setNoDelay(true)
    socket.on('data', chunk => onData(conn, chunk))
    socket.on('drain', () => socket.resume())
    socket.on('error', () => socket.destroy())
    socket.on('close', () => { conns.delete(conn); conn.parser?.close() })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 11211, opts.host ?? '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as net.AddressInfo
  return {
    port: addr.port,
    host: addr.address,
    handlers,
    async close() {
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        for (const c of conns) c.socket.destroy()
      })
      if (scheduled) runTurn()
      await Promise.allSettled([...inFlight])
      await store.close()
    },
  }
}

/** True for the errors memcached would call "out of memory". */
function outOfSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return code === 'ERR_PMEM_OUT_OF_SPACE' || code === 'ERR_PMEM_TX_TOO_LARGE'
}

/** The text of a SERVER_ERROR for a request that failed on its own. */
function serverError(err: unknown, req: Request): string {
  if (outOfSpace(err)) {
    return req.kind === 'store' ? 'out of memory storing object' : 'out of memory'
  }
  return String((err as Error)?.message ?? err).replace(/[\r\n]+/g, ' ')
}
