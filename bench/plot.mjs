// Redraw every chart in bench/plots/ from its committed JSON (no benchmark runs).
//
// Usage: node plot.mjs [name ...]   (default: every plots/*.json)

import fs from 'node:fs'
import path from 'node:path'
import { plotsDir, renderChart } from './lib/plot.mjs'

const names = process.argv.slice(2).length > 0
  ? process.argv.slice(2)
  : fs.readdirSync(plotsDir).filter((f) => f.endsWith('.json')).map((f) => path.basename(f, '.json'))
for (const name of names) console.log(path.relative(process.cwd(), await renderChart(name)))
