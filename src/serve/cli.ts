/**
 * `pmem serve FILE [--port 11211] [--host 127.0.0.1] [--durability sync|group|none]
 * [--size BYTES] [--max-size BYTES] [--item-size-max BYTES]`: opens (creating if missing) the pool in FILE and
 * serves the memcached protocol (text and binary) from it until SIGINT or SIGTERM, then closes the pool.
 * Prints `pmem serve: listening on HOST:PORT (durability D)` once it accepts connections
 * (`--port 0` picks a free port, which that line names).
 */
import fs from 'node:fs'
import { PmemError } from '../../regions/index.js'
import { itemCount } from './handlers.js'
import { startServer } from './server.js'
import { openPmStore } from './store.js'

export const SERVE_USAGE = 'usage: pmem serve <file> [--port 11211] [--host 127.0.0.1] [--durability sync|group|none] [--size BYTES] [--max-size BYTES] [--item-size-max BYTES]'

interface ServeArgs { file: string; port: number; host: string; durability: 'sync' | 'group' | 'none'; size?: number; maxSize?: number; itemSizeMax: number }

/** Parses the arguments after `serve`; a string is the usage error to print. */
export function parseServeArgs(args: string[]): ServeArgs | string {
  const out: Partial<ServeArgs> & { port: number; host: string; durability: ServeArgs['durability']; itemSizeMax: number } =
    { port: 11211, host: '127.0.0.1', durability: 'sync', itemSizeMax: 1 << 20 }
  const int = (v: string | undefined, name: string, min: number, max: number): number | string => {
    const n = v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : NaN
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : `pmem serve: ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v ?? null)}`
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    const v = args[i + 1]
    let r: number | string | undefined
    switch (a) {
      case '--port': r = int(v, '--port', 0, 65535); if (typeof r === 'number') out.port = r; i++; break
      case '--host': if (v === undefined) return `pmem serve: --host needs a value\n${SERVE_USAGE}`; out.host = v; i++; break
      case '--durability':
        if (v !== 'sync' && v !== 'group' && v !== 'none') return `pmem serve: --durability must be sync, group or none, got ${JSON.stringify(v ?? null)}`
        out.durability = v; i++; break
      case '--size': r = int(v, '--size', 1 << 20, 2 ** 31 - 4096); if (typeof r === 'number') out.size = r; i++; break
      case '--max-size': r = int(v, '--max-size', 1 << 20, 2 ** 31 - 4096); if (typeof r === 'number') out.maxSize = r; i++; break
      case '--item-size-max': r = int(v, '--item-size-max', 1024, 16 << 20); if (typeof r === 'number') out.itemSizeMax = r; i++; break
      default:
        if (a.startsWith('-') || out.file !== undefined) return `pmem serve: unexpected argument ${JSON.stringify(a)}\n${SERVE_USAGE}`
        out.file = a
    }
    if (typeof r === 'string') return r
  }
  if (out.file === undefined) return SERVE_USAGE
  return out as ServeArgs
}

/** Runs `pmem serve`; resolves with the exit status once the server stopped. */
export async function serveMain(args: string[]): Promise<number> {
  const a = parseServeArgs(args)
  if (typeof a === 'string') { console.error(a); return 2 }
  // A start that fails after this call created the pool (a port in use) removes it again:
  // bad input changes nothing on disk. Unlinked while the lock is still held, before close.
  const created = !fs.existsSync(a.file)
  let store
  try {
    store = openPmStore(a.file, { durability: a.durability, size: a.size, maxSize: a.maxSize })
  } catch (err) {
    console.error(err instanceof PmemError ? `pmem serve: ${err.message}` : err)
    return 2
  }
  const logSize = store.pm.engine.layout.logSize
  const limit = Math.min(a.itemSizeMax, Math.floor(logSize / 4))
  const server = await startServer({ store, port: a.port, host: a.host, itemSizeMax: limit, maxBatchBytes: Math.floor(logSize / 2) }).catch((err: unknown) => {
    if (created) fs.rmSync(a.file, { force: true })
    store.close()
    throw err
  })
  console.log(`pmem serve: listening on ${server.host}:${server.port} (durability ${a.durability}, ${itemCount(store)} items)`)
  await new Promise<void>(resolve => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await server.close()
  return 0
}
