/**
 * A container's Backing over a named store of a ChunkStoreHost (txn/chunk-store.ts), such as
 * a PostgreSQL database (src/postgres): what `Container.openStore` opens. The host does the
 * asynchronous work at open (the writer's lease, loading the chosen version's chunks into
 * memory, creating the named store for a writer with `init`); the container then reads its
 * chunks synchronously from the store's memory and commits with `commitAsync`, one
 * database transaction per point.
 *
 * Invariants (cited as "hosted inv. N"):
 *   H1. The store is created by the open (a writer with `init` on a missing name), never by
 *       the first point: `create` returns the store the open made, so a point never has to
 *       wait for a lease. An open that fails after the host created the store deletes it
 *       again (backing.ts inv. B2, via `discard`).
 *   H2. Nothing here streams or reserves: a hosted store has no region (`appendTarget` is
 *       absent, so stream.ts never opens a pipe).
 */
import { InvalidArgumentError, describe } from '../../regions/index.js'
import type { Backing } from './backing.js'
import type { ChunkStoreHost, HostedStore } from './store.js'
import { checkAll, DEFAULT_CHUNK_SIZE, type ContainerOptions } from './options.js'
import type { ClassRegistry } from './classes.js'

/** Largest container name a host is asked for (bytes of UTF-8). */
const MAX_NAME = 200

/** Checks the arguments of `Container.openStore` before anything is opened; returns the class registry. */
export function checkOpenStore(host: unknown, name: unknown, options: ContainerOptions<object>): ClassRegistry {
  if (host === null || typeof host !== 'object' || typeof (host as ChunkStoreHost).openStore !== 'function' || typeof (host as ChunkStoreHost).where !== 'string') {
    throw new InvalidArgumentError(`Cannot open container: expected a chunk store host such as PostgresStore (from PostgresStore.connect), got ${describe(host)}`)
  }
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_NAME || /[\u0000-\u001f]/.test(name)) {
    throw new InvalidArgumentError(`Cannot open container in ${(host as ChunkStoreHost).where}: name must be a non-empty string of at most ${MAX_NAME} bytes without control characters, got ${describe(name)}`)
  }
  return checkAll(options)
}

/** Opens the named store on the host as the options ask (a writer with `init` may create it, hosted inv. H1). */
export function openHosted(host: ChunkStoreHost, name: string, options: ContainerOptions<object>): Promise<HostedStore> {
  const readOnly = options.readOnly === true
  const create = !readOnly && options.init !== undefined && options.version === undefined
    ? { chunkSize: options.chunkSize ?? DEFAULT_CHUNK_SIZE, keepVersions: options.keepVersions ?? 3 }
    : null
  return host.openStore(name, { readOnly, create, version: options.version })
}

/** A Backing over an opened hosted store; `discard` keeps the host's promise in `discarded`. */
export function hostedBacking(h: HostedStore): Backing & { discarded: Promise<void> | null } {
  const none = (): Promise<void> => Promise.resolve()
  return {
    path: h.path,
    created: h.created,
    store: h.store,
    blank: h.store === null,
    discarded: null,
    create() {
      if (h.store === null) throw new InvalidArgumentError(`Cannot create container "${h.path}": the store was not created at open (open it with init)`)
      return h.store    // inv. H1
    },
    openVersion(v) { return h.openVersion(v) },
    // A hosted store is loaded into memory at open; a read-only container moves on with
    // fetchNewest (the host's refresh), so the file-follow hooks see one unchanging version.
    reopen() { return h.store },
    retained() { return h.store === null ? [] : [h.store.version] },
    writerAlive() { return false },
    followGrowth() {},
    ...(h.refresh !== undefined ? { fetchNewest: () => h.refresh!() } : {}),
    expectWrite() {},
    prepareFlush() {},
    reserve: none,
    appendStream() { return null },    // inv. H2
    close() { return h.close() },
    discard() { this.discarded = h.discard() },
  }
}
