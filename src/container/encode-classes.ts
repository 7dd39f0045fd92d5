/**
 * The encoder's classification (encode.ts): the kind (KIND_*) and proto code an object is
 * written with, by kinds.ts's rules plus the container's class records, or why it cannot
 * persist; a CLASS record written (to the point's `aux` records) the first time a class is
 * used; and what the instances of a class lose (their private members without hooks).
 *
 * A classification leaves its proto code in `proto` and, for an object that cannot persist
 * (kind 0), the reason in `reason`, read by the encoder right after the call (nothing is
 * allocated per object). Keeps encode.ts inv. 3: the objects it classifies meet only captured
 * built-ins (builtins.ts; kinds.ts's brand checks).
 */
import { anyFailed, prototypeFailure, stillThrowing } from './trap-failures.js'
import { ObjectProto, getPrototypeOf } from './builtins.js'
import { KIND_OBJECT, PROTO_BUILTIN, PROTO_CLASS_BASE, PROTO_NULL } from './format.js'
import { classified, kindOf, protoName } from './kinds.js'
import { writeClass } from './records.js'
import { ClassRef, type ClassRegistry } from './classes.js'
import { classDrop } from './instances.js'
import type { ObjectTable } from './identity.js'
import type { ByteWriter } from './writer.js'

/** Kind and proto code of the objects an encoder writes, with the class records of its container. */
export class Classifier {
  /** Proto code of the last object classified: PROTO_BUILTIN, PROTO_NULL or PROTO_CLASS_BASE + its CLASS record's id. */
  proto = 0
  /** Why the last object classified as kind 0 cannot persist. */
  reason = ''

  constructor(
    readonly table: ObjectTable,
    readonly classes: ClassRegistry,
    /** Where CLASS records go (the encoder's `aux`: written before the object records). */
    readonly aux: ByteWriter,
    /** Class prototype -> its class record, shared by the points of a container. */
    readonly refs: Map<object, ClassRef>,
  ) {}

  /**
   * Kind of `o` (KIND_*), or 0 if it cannot persist (then `reason` says why): kinds.ts's
   * rules, plus the class records. Sets `proto`; writes a CLASS record the first time a class is used.
   */
  classify(o: object): number {
    const kind = kindOf(o)
    if (kind === 0) return this.#unsupported(classified.reason)
    const proto = classified.classProto
    if (proto === null) { this.proto = classified.proto; return kind }
    return this.#instance(proto, kind)
  }

  /**
   * `classify` for an object known to have an ordinary object's brand (dirty.ts inv. D3):
   * its kind is KIND_OBJECT whatever its prototype is now, as kinds.ts would find it (an
   * Object.prototype or null prototype is builtin, any other one a class), without the
   * brand checks (a dozen native calls for a class instance).
   */
  classifyOrdinary(o: object): number {
    if (anyFailed()) { const why = stillThrowing(o); if (why !== '') return this.#unsupported(why) }     // trap-failures.ts inv. TF1
    let p: object | null
    try { p = getPrototypeOf(o) as object | null } catch (e) { return this.#unsupported(prototypeFailure(e)) }
    if (p === ObjectProto) { this.proto = PROTO_BUILTIN; return KIND_OBJECT }
    if (p === null) { this.proto = PROTO_NULL; return KIND_OBJECT }
    return this.#instance(p, KIND_OBJECT)
  }

  /** What instances of the class that proto code `proto` stands for lose as `kind` (classes.ts); '' for nothing. */
  dropped(proto: number, kind: number): string {
    return classDrop((this.table.objects[proto - PROTO_CLASS_BASE] as ClassRef).info, kind)
  }

  #unsupported(reason: string): number { this.reason = reason; return 0 }

  /** `kind` for an instance of the class whose prototype is `proto`, its CLASS record's proto code in `proto`; 0 for an unregistered class. */
  #instance(proto: object, kind: number): number {
    const ref = this.#classRef(proto)
    if (ref === undefined) return this.#unsupported(`instance of unregistered class ${protoName(proto)}`)
    this.proto = PROTO_CLASS_BASE + ref.id
    return kind
  }

  #classRef(proto: object): ClassRef | undefined {
    let ref = this.refs.get(proto)
    if (ref !== undefined && ref.id !== 0) return ref
    const name = this.classes.nameOf(proto)
    if (name === undefined) return undefined
    ref ??= new ClassRef(name, proto, this.classes.infoByProto(proto))
    this.refs.set(proto, ref)
    ref.id = this.table.assign(ref)
    writeClass(this.aux, ref.id, name)
    return ref
  }
}
