/**
 * A private PostgreSQL cluster for the tests: `initdb` in a temporary directory, a server on
 * a free TCP port of 127.0.0.1 (run as the `postgres` user, or `nobody`, when the tests run
 * as root: PostgreSQL refuses root), stopped and deleted at the end. The server can be
 * killed (SIGKILL to the postmaster and every backend: a machine or process crash as the
 * database sees it) and started again on the same data (crash recovery from its WAL).
 *
 * The binaries are found through PMEM_PG_BINDIR, `pg_config --bindir`, Debian's
 * /usr/lib/postgresql/N/bin, or `initdb` on the PATH. Without them, `startCluster` returns
 * the reason, and the tests skip saying so (except under CI, where they fail: .ci/run
 * installs PostgreSQL).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

export interface Cluster {
  readonly url: string
  readonly port: number
  readonly dir: string
  /** The postmaster's pid while running. */
  readonly pid: number
  readonly running: boolean
  /** SIGKILLs the postmaster and all its children, and waits until they are gone. */
  kill(): Promise<void>
  /** Starts the server again on the same data directory (crash recovery runs). */
  start(): Promise<void>
  /** Fast shutdown and deletion of the directory. */
  destroy(): Promise<void>
}

/** The directory holding initdb and postgres, or null. */
export function findBinDir(): string | null {
  const has = (d: string) => fs.existsSync(path.join(d, 'initdb')) && fs.existsSync(path.join(d, 'postgres'))
  const env = process.env.PMEM_PG_BINDIR
  if (env !== undefined && has(env)) return env
  try {
    const d = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    if (has(d)) return d
  } catch { /* no pg_config */ }
  try {
    const versions = fs.readdirSync('/usr/lib/postgresql').filter(v => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    for (const v of versions) if (has(`/usr/lib/postgresql/${v}/bin`)) return `/usr/lib/postgresql/${v}/bin`
  } catch { /* not Debian */ }
  for (const d of (process.env.PATH ?? '').split(':')) {
    const p = path.join(d, 'initdb')
    if (d !== '' && fs.existsSync(p)) {
      const real = path.dirname(fs.realpathSync(p))
      if (has(real)) return real
    }
  }
  return null
}

/** The user the server runs as: ourselves, or (as root) postgres or nobody. */
function serverUser(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
      if (Number.isInteger(uid) && uid > 0) return { uid, gid }
    } catch { /* no such user */ }
  }
  throw new Error('running as root and neither the postgres nor the nobody user exists to run the server')
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

/** Why the PostgreSQL tests cannot run here, or null if they can. */
export function unavailable(): string | null {
  return findBinDir() === null ? 'PostgreSQL is not installed (no initdb found via PMEM_PG_BINDIR, pg_config --bindir, /usr/lib/postgresql/N/bin or PATH); .ci/run installs it (apt-get install postgresql)' : null
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** Run with fsync on (the benchmark: real commit costs); default off (below). */
  fsync?: boolean
  /** shared_buffers (default 32MB). */
  sharedBuffers?: string
}

/** Starts a private cluster; throws if it cannot (after `unavailable()` said it could). */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const bin = findBinDir()
  if (bin === null) throw new Error(unavailable()!)
  const user = serverUser()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmem-pg-'))
  const data = path.join(dir, 'data')
  fs.mkdirSync(data)
  if (user !== null) { fs.chownSync(dir, user.uid, user.gid); fs.chownSync(data, user.uid, user.gid) }
  const asUser = user === null ? {} : { uid: user.uid, gid: user.gid }
  const env = { ...process.env, LC_ALL: 'C', HOME: dir }
  execFileSync(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'pmem', '-E', 'UTF8', '--locale=C', '--no-sync'], { ...asUser, env, stdio: ['ignore', 'ignore', 'pipe'] })
  const port = await freePort()
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()

  const start = async (): Promise<void> => {
    // fsync=off: the tests kill the server's processes, not the machine, so the operating
    // system keeps everything the server wrote; with fsync on, the checkpoint that ends each
    // crash recovery syncs every file (1.1 s per restart here instead of 0.1 s). Durability
    // across power loss is PostgreSQL's own, not what these tests examine.
    const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', `shared_buffers=${options.sharedBuffers ?? '32MB'}`,
      '-c', 'max_connections=50', '-c', 'max_wal_size=256MB', '-c', 'wal_level=minimal', '-c', 'max_wal_senders=0', '-c', `full_page_writes=${options.fsync === true ? 'on' : 'off'}`, '-c', `fsync=${options.fsync === true ? 'on' : 'off'}`]
    const c = spawn(path.join(bin, 'postgres'), args, { ...asUser, env, stdio: ['ignore', 'ignore', 'pipe'] })
    child = c
    exited = new Promise(resolve => c.once('exit', () => resolve()))
    let log = ''
    await new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer) => {
        log += b.toString()
        if (log.includes('ready to accept connections')) { c.stderr!.off('data', onData); c.stderr!.resume(); resolve() }
      }
      c.stderr!.on('data', onData)
      c.once('exit', code => reject(new Error(`postgres exited with ${code} while starting:\n${log}`)))
    })
  }

  const childrenOf = (pid: number): number[] => {
    const out: number[] = []
    for (const e of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue
      try {
        const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8')
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
        if (ppid === pid) out.push(Number(e))
      } catch { /* gone */ }
    }
    return out
  }
  const alive = (pid: number): boolean => {
    try { return !/^\S+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) } catch { return false }
  }

  const kill = async (): Promise<void> => {
    const c = child
    if (c === null || c.pid === undefined) return
    process.kill(c.pid, 'SIGSTOP')             // no new backends from here on
    const kids = childrenOf(c.pid)
    for (const k of kids) { try { process.kill(k, 'SIGKILL') } catch { /* already gone */ } }
    process.kill(c.pid, 'SIGKILL')
    await exited
    child = null
    for (let i = 0; i < 500 && kids.some(alive); i++) await new Promise(r => setTimeout(r, 10))
  }

  await start()
  const exitHook = () => { if (child?.pid !== undefined) { try { process.kill(child.pid, 'SIGKILL') } catch { /* gone */ } } }
  process.on('exit', exitHook)
  return {
    url: `postgres://pmem@127.0.0.1:${port}/postgres`,
    port, dir,
    get pid() { return child?.pid ?? 0 },
    get running() { return child !== null },
    kill,
    start,
    async destroy() {
      process.off('exit', exitHook)
      const c = child
      if (c?.pid !== undefined) {
        c.kill('SIGQUIT')                     // immediate shutdown: the directory is deleted anyway
        const timeout = setTimeout(() => { void kill() }, 10_000)
        await exited
        clearTimeout(timeout)
        child = null
      }
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}
