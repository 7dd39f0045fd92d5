/**
 * Test kit for binary data in containers: random graphs of ArrayBuffers (fixed and
 * resizable, small and chunked), typed arrays and DataViews sharing them, and Node Buffers
 * (whole-buffer views and slices of a larger one); random writes (one element, a range, a
 * resize, a detach); and `describeBinary`, a canonical description (bytes by SHA-1, lengths,
 * resizability, view offsets and types, which views share a buffer) that a process compares
 * with what another process restored.
 */
import fc from 'fast-check'
import crypto from 'node:crypto'
import { types } from 'node:util'

const VIEWS = ['Uint8Array', 'Int16Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'DataView'] as const
type Ctor = new (b: ArrayBuffer, o?: number, l?: number) => ArrayBufferView
const G = globalThis as unknown as Record<string, Ctor>
const ResizableArrayBuffer = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer

export interface BufferRecipe { size: number; resizable: boolean; seed: number }
export interface ViewRecipe { buffer: number; type: number; offset: number; length: number }
export interface BinaryRecipe { buffers: BufferRecipe[]; views: ViewRecipe[]; slices: { size: number; at: number }[] }
export type BinaryOp =
  | { op: 'element'; view: number; index: number; value: number }
  | { op: 'range'; buffer: number; from: number; to: number; value: number }
  | { op: 'resize'; buffer: number; size: number }
  | { op: 'detach'; buffer: number }
  | { op: 'point' } | { op: 'full' }

const size = fc.oneof(fc.nat({ max: 64 }), fc.integer({ min: 4000, max: 4200 }), fc.integer({ min: 4097, max: 40000 }))

export const binaryRecipe = (): fc.Arbitrary<BinaryRecipe> => fc.record({
  buffers: fc.array(fc.record({ size, resizable: fc.boolean(), seed: fc.nat() }), { minLength: 1, maxLength: 5 }),
  views: fc.array(fc.record({ buffer: fc.nat(), type: fc.nat({ max: VIEWS.length - 1 }), offset: fc.nat(), length: fc.nat() }), { maxLength: 6 }),
  slices: fc.array(fc.record({ size: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 4097, max: 12000 })), at: fc.nat({ max: 100 }) }), { maxLength: 2 }),
})

export const binaryOp = (): fc.Arbitrary<BinaryOp> => fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('element' as const), view: fc.nat(), index: fc.nat(), value: fc.integer({ min: -1000, max: 1000 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('range' as const), buffer: fc.nat(), from: fc.nat(), to: fc.nat(), value: fc.nat({ max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('resize' as const), buffer: fc.nat(), size }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('detach' as const), buffer: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant({ op: 'point' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'full' as const }) },
)

/** The root of a binary graph: `buffers`, `views` (on them) and `slices` (Buffers viewing part of a larger one). */
export interface BinaryRoot { buffers: ArrayBuffer[]; views: ArrayBufferView[]; slices: Buffer[] }

export function buildBinary(r: BinaryRecipe): BinaryRoot {
  const buffers = r.buffers.map(b => {
    const buf = b.resizable ? new ResizableArrayBuffer(b.size, { maxByteLength: b.size + 5000 }) : new ArrayBuffer(b.size)
    const u = new Uint8Array(buf)
    for (let i = 0; i < u.length; i++) u[i] = (i * 31 + b.seed) & 255
    return buf
  })
  const views: ArrayBufferView[] = []
  for (const v of r.views) {
    const buf = buffers[v.buffer % buffers.length]
    const name = VIEWS[v.type]
    const el = name === 'DataView' ? 1 : (G[name] as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT
    const maxEls = Math.floor(buf.byteLength / el)
    if (maxEls === 0) continue
    const off = (v.offset % maxEls) * el
    const len = v.length % (Math.floor((buf.byteLength - off) / el) + 1)
    views.push(new G[name](buf, off, len))
  }
  const slices = r.slices.map(s => { const big = Buffer.alloc(s.size + 200, s.size & 255); return big.subarray(s.at, s.at + s.size) })
  return { buffers, views, slices }
}

/** Applies one write (through whatever the program holds: raw views and buffers). */
export function applyOp(root: BinaryRoot, op: BinaryOp): void {
  switch (op.op) {
    case 'element': {
      const all = [...root.views, ...root.slices]
      if (all.length === 0) return
      const v = all[op.view % all.length]
      if (types.isDataView(v)) {
        let n = 0
        try { n = v.byteLength } catch { /* its buffer was detached or shrunk below it */ }
        if (n > 0) (v as DataView).setInt8(op.index % n, op.value & 127)
        return
      }
      const a = v as unknown as { length: number; [i: number]: unknown }
      if (a.length === 0) return
      a[op.index % a.length] = types.isBigInt64Array(v) ? BigInt(op.value) : op.value
      return
    }
    case 'range': {
      const buf = root.buffers[op.buffer % root.buffers.length]
      const n = buf.byteLength
      if (n === 0) return
      const a = op.from % n, b = a + (op.to % Math.max(1, Math.min(n - a, 9000)))
      new Uint8Array(buf).fill(op.value, a, b)
      return
    }
    case 'resize': {
      const buf = root.buffers[op.buffer % root.buffers.length] as ArrayBuffer & { resizable?: boolean; maxByteLength?: number; resize?(n: number): void }
      if (buf.resizable === true && buf.byteLength > 0) buf.resize!(op.size % (buf.maxByteLength! + 1))
      return
    }
    case 'detach': {
      const buf = root.buffers[op.buffer % root.buffers.length]
      if (buf.byteLength > 0) structuredClone(buf, { transfer: [buf] })
      return
    }
  }
}

const sha = (b: Uint8Array): string => crypto.createHash('sha1').update(b).digest('hex').slice(0, 16)

/** Canonical description of a binary root (identity of shared buffers included). */
export function describeBinary(root: BinaryRoot): string[] {
  const ids = new Map<ArrayBuffer, number>()
  const out: string[] = []
  const bufferId = (b: ArrayBuffer): number => {
    let id = ids.get(b)
    if (id === undefined) {
      id = ids.size
      ids.set(b, id)
      const r = b as ArrayBuffer & { resizable?: boolean; maxByteLength?: number }
      out.push(`buffer ${id}: ${b.byteLength} bytes ${r.resizable === true ? `resizable to ${r.maxByteLength}` : 'fixed'} sha ${b.byteLength === 0 ? "-" : sha(new Uint8Array(b))} proto ${Object.getPrototypeOf(b) === ArrayBuffer.prototype}`)
    }
    return id
  }
  root.buffers.forEach((b, i) => out.push(`buffers[${i}] = ${bufferId(b)}`))
  root.views.forEach((v, i) => {
    let off = 0, len = 0     // a DataView out of its buffer's bounds throws; a typed array reads 0, 0
    try { off = v.byteOffset; len = types.isDataView(v) ? v.byteLength : (v as Uint8Array).length } catch { /* out of bounds */ }
    out.push(`views[${i}]: ${Object.prototype.toString.call(v)} on ${bufferId(v.buffer as ArrayBuffer)} at ${off} length ${len}`)
  })
  root.slices.forEach((s, i) => out.push(`slices[${i}]: Buffer ${Buffer.isBuffer(s)} ${s.length} bytes sha ${sha(s)}`))
  return out
}
