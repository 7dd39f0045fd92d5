// Loads the persistent-memory build (../dist/src/index.js) for the bench scripts.
//
// PM_BENCH_LIBRARY=/abs/path/to/index.js loads another build instead (an installed
// release to compare against, or a stand-in to test the harness).
//
// Invariant: a missing build or a missing export never stops a benchmark run; the
// caller gets { missing: reason } and skips its persistent-memory rows with that
// reason, so the competitors are still measured while the API is being built.

import path from 'node:path'
import { pathToFileURL } from 'node:url'

/**
 * Import the built library: { lib, source } on success, else { missing: reason,
 * source: 'none' } when it or one of `names` (dotted, e.g. "t.array") is missing.
 */
export async function loadLibrary(names) {
  const override = process.env.PM_BENCH_LIBRARY
  const specifier = override ? pathToFileURL(path.resolve(override)).href : '../../dist/src/index.js'
  const shown = override ?? '../dist/src/index.js'
  let mod
  try {
    mod = await import(specifier)
  } catch (err) {
    const message = String(err?.message ?? err).split('\n')[0]
    const why = err?.code === 'ERR_MODULE_NOT_FOUND' && message.includes('index.js') ? 'not built' : message
    return { missing: `cannot import ${shown} (${why}); run "npm run build" at the root`, source: 'none' }
  }
  const absent = names.filter((n) => lookup(mod, n) === undefined)
  if (absent.length > 0) return { missing: `${shown} does not export ${absent.join(', ')} yet`, source: 'none' }
  return { lib: mod, source: shown }
}

/** Resolve a dotted export name such as "t.array". */
function lookup(mod, dotted) {
  return dotted.split('.').reduce((o, k) => (o == null ? undefined : o[k]), mod)
}
