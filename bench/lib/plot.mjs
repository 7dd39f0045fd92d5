// Charts for the benchmark results: Vega-Lite specs rendered to SVG headless in node
// (vega's View.toSVG needs no browser or canvas).
//
// Invariants:
//  1. Every chart is made from data that is also written, unchanged, as JSON next to
//     it (bench/plots/<name>.json), so `node plot.mjs` can redraw every chart from the
//     committed results without rerunning anything.
//  2. Every chart carries the machine, the load average during the run and the date
//     in its subtitle, and says "quick run" when the run was a --quick validation.

import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as vega from 'vega'
import * as vl from 'vega-lite'

export const plotsDir = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'plots')

/** 1-minute load average and I/O pressure (PSI avg10), as the runner prints them. */
export function loadNow() {
  let io = ''
  try {
    const m = /some avg10=([\d.]+)/.exec(fs.readFileSync('/proc/pressure/io', 'utf8'))
    if (m) io = `, io pressure ${m[1]}%`
  } catch {
    // no PSI on this kernel
  }
  return `loadavg ${os.loadavg()[0].toFixed(2)}${io}`
}

/** The machine, for the JSON and the chart's subtitle. */
export function machine() {
  return {
    cpu: `${os.cpus()[0]?.model?.trim() ?? '?'} x${os.cpus().length}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    kernel: os.release(),
  }
}

/** Subtitle lines: the machine, the load and the date (inv. 2). */
function subtitle(meta) {
  const m = meta.machine
  const lines = [`${m.cpu}, ${m.memory}, ${m.node}, ${meta.filesystem ?? 'disk'}; ${meta.date.slice(0, 16).replace('T', ' ')} UTC${meta.quick ? '; QUICK RUN (validation)' : ''}`]
  lines.push(`load: ${meta.load}`)
  if (os.cpus().length > 0 && /loadavg ([\d.]+)/.test(meta.load) && Number(/loadavg ([\d.]+)/.exec(meta.load)[1]) > os.cpus().length / 2) {
    lines.push('the machine was busy during this run: ratios are noisy')
  }
  for (const n of meta.notes ?? []) lines.push(n)
  return lines
}

/**
 * Write plots/<name>.json ({ meta, data }) and render plots/<name>.svg from `spec`
 * (a Vega-Lite spec without data; the rows are passed as its inline values).
 */
export async function writeChart(name, { meta, data, spec }) {
  fs.mkdirSync(plotsDir, { recursive: true })
  fs.writeFileSync(path.join(plotsDir, `${name}.json`), JSON.stringify({ meta, spec, data }, null, 2) + '\n')
  return renderChart(name)
}

/** Render plots/<name>.svg from plots/<name>.json (inv. 1). */
export async function renderChart(name) {
  const { meta, spec, data } = JSON.parse(fs.readFileSync(path.join(plotsDir, `${name}.json`), 'utf8'))
  const full = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 12,
    config: { font: 'sans-serif', title: { anchor: 'start', fontSize: 14, subtitleFontSize: 10, subtitleColor: '#555' }, axis: { labelFontSize: 11, titleFontSize: 11 }, legend: { labelFontSize: 11, titleFontSize: 11, labelLimit: 400 } },
    ...spec,
    title: { text: meta.title, subtitle: subtitle(meta) },
    data: { values: data },
  }
  const view = new vega.View(vega.parse(vl.compile(full).spec), { renderer: 'none' })
  const svg = await view.toSVG()
  view.finalize()
  const file = path.join(plotsDir, `${name}.svg`)
  fs.writeFileSync(file, svg + '\n')
  return file
}

/** The meta block every experiment stores: title, machine, load, date, quick flag. */
export function makeMeta({ title, loadBefore, quick, filesystem, notes, params }) {
  return {
    title,
    date: new Date().toISOString(),
    machine: machine(),
    load: `before ${loadBefore}, after ${loadNow()}`,
    filesystem,
    quick: quick === true,
    notes: notes ?? [],
    params: params ?? {},
  }
}
