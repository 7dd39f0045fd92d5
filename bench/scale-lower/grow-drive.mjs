import { spawn, spawnSync } from 'node:child_process'
const [file] = process.argv.slice(2)
const child = new URL('./grow-child.mjs', import.meta.url).pathname
function run(args, killMs) {
  return new Promise(res => {
    const p = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = '', err = '', timer
    p.stdout.on('data', d => { out += d; if (!timer && out.includes('ready\n')) timer = setTimeout(() => p.kill('SIGKILL'), killMs) })
    p.stderr.on('data', d => { err += d })
    p.on('exit', (code, sig) => { clearTimeout(timer); res({ out, err, code, sig }) })
  })
}
let rep = 0
for (let life = 0; life < 200; life++) {
  const w = await run(['work', file], 2000 + Math.random() * 6000)
  const nums = w.out.split('\n').filter(l => /^\d+$/.test(l)).map(Number)
  if (nums.length) rep = nums.at(-1)
  const full = w.out.match(/FULL (\d+)/)
  if (full) rep = +full[1]
  const v = spawnSync(process.execPath, [child, 'verify', file, String(rep)], { encoding: 'utf8' })
  console.log(`life ${life}: ${w.out.match(/opened.*/)?.[0]} ${w.sig ?? w.code} commits=${nums.length} rep=${rep} ${w.err.slice(0, 400)}\n  ${w.out.split('\n').filter(l => !/^\d+$/.test(l) && !/^(ready|opened)/.test(l)).join('\n  ')}\n  ${v.stdout.trim()} ${v.stderr.slice(0, 400)}`)
  if (v.status !== 0 || (w.sig !== 'SIGKILL' && !full)) break
  rep = +(v.stdout.match(/len=(\d+)/)?.[1] ?? rep)
  if (full) break
}
