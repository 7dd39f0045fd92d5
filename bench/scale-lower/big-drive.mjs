import { spawn, spawnSync } from 'node:child_process'
const [file, areaMb, livesArg] = process.argv.slice(2)
const child = new URL('./big-child.mjs', import.meta.url).pathname
function runKill(args, killAfterReady) {
  return new Promise(res => {
    const p = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = '', err = '', timer
    p.stdout.on('data', d => { out += d; if (!timer && out.includes('ready\n')) timer = setTimeout(() => p.kill('SIGKILL'), killAfterReady) })
    p.stderr.on('data', d => { err += d })
    p.on('exit', (code, sig) => { clearTimeout(timer); res({ out, err, code, sig }) })
  })
}
let lo = 0, hi = 0, fails = 0
for (let life = 0; life < +livesArg; life++) {
  // work life: kill after random time spanning a few commits
  const w = await runKill(['work', file, areaMb], 200 + Math.random() * 4000)
  const nums = w.out.split('\n').filter(l => /^\d+$/.test(l)).map(Number)
  const opened = w.out.match(/opened \d+ recovered=\d+/)?.[0]
  if (w.sig !== 'SIGKILL') { console.log('work exited', w.code, w.err.slice(0, 500)); fails++; break }
  if (nums.length) { lo = nums.at(-1); hi = lo + 1 } else { hi = hi + 1 }
  // 1-2 recoveries killed at random points
  const nrec = 1 + (life % 2)
  const recs = []
  for (let r = 0; r < nrec; r++) {
    const k = Math.random() * 1500
    const x = await runKill(['recover', file], k)
    recs.push(`${Math.round(k)}ms:${x.sig ?? x.code}:${(x.out.match(/opened.*/) ?? [""])[0]}`)
    if (x.sig !== 'SIGKILL' && x.code !== 0) { console.log('recover failed', x.code, x.err.slice(0, 800)); fails++ }
  }
  if (life % 3 === 2) { console.log(`life ${life}: work ${opened} commits=${nums.length} [${lo},${hi}] recs ${recs.join(' ')} (no verify: next work life recovers)`); continue }
  const v = spawnSync(process.execPath, [child, 'verify', file, areaMb, String(lo)], { encoding: 'utf8' })
  const line = v.stdout.trim()
  const g = Number(line.match(/gen=(\d+)/)?.[1])
  const ok = v.status === 0 && g >= lo && g <= hi
  console.log(`life ${life}: work ${opened} commits=${nums.length} [${lo},${hi}] recs ${recs.join(' ')} -> ${line} ${v.stderr.slice(0, 500)} ${ok ? 'OK' : 'FAIL'}`)
  if (!ok) { fails++; break }
  lo = hi = g
}
console.log('fails', fails)
