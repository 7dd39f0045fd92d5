/**
 * `persistent-memory/postgres`: containers in PostgreSQL (the table layout: schema.ts).
 *
 * @example
 * import { Container } from 'persistent-memory'
 * import { PostgresStore } from 'persistent-memory/postgres'
 * const store = await PostgresStore.connect('postgres://app@db.internal/app')
 * const c = await Container.openStore(store, 'sessions', { init: () => ({ users: new Map() }) })
 */
export { PostgresStore } from './store.js'
export type { PostgresStoreOptions } from './store.js'
export { SCHEMA_VERSION } from './schema.js'
export { ContainerLockedError, LeaseLostError, StoreUnavailableError } from '../../regions/index.js'
