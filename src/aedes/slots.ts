// fleetgate's own state of one connection, kept on the object Aedes hands around
// (its Client, or the stream given to broker.handle) under a private symbol.
//
// Why not a WeakMap: each entry of a WeakMap is an ephemeron, which V8's marker
// cannot trace like a plain property: at every major GC it processes the table
// apart, once per live connection and per map. Measured: keeping the session
// registry's, the backlog's and the connection info's state this way spent
// 0.956-0.975x the CPU per resumed connect of the same build with WeakMaps (three
// paired runs, docs/BENCHMARKS.md). The property dies with its object, as a
// WeakMap entry would; nothing outside the slot knows its symbol.

export class ConnectionSlot<V> {
  readonly #key: symbol

  /** `name`: shown by a debugger or a heap snapshot beside the value */
  constructor (name: string) { this.#key = Symbol(`fleetgate.${name}`) }

  get (owner: object): V | undefined {
    return (owner as Record<symbol, V | undefined>)[this.#key]
  }

  set (owner: object, value: V): void {
    (owner as Record<symbol, V | undefined>)[this.#key] = value
  }

  /** true when there was a value; the property stays, set to undefined (a delete would change the object's shape) */
  delete (owner: object): boolean {
    const slots = owner as Record<symbol, V | undefined>
    if (slots[this.#key] === undefined) return false
    slots[this.#key] = undefined
    return true
  }
}
