/**
 * A Map that keeps only the newest `capacity` entries (insertion order, oldest dropped first).
 * Remembers answers by request id without growing forever.
 */
export class BoundedMap<K, V> {
  private readonly m = new Map<K, V>();
  constructor(readonly capacity: number) {
    if (capacity < 1) throw new RangeError("capacity must be at least 1");
  }
  get(k: K): V | undefined {
    return this.m.get(k);
  }
  has(k: K): boolean {
    return this.m.has(k);
  }
  set(k: K, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.capacity) {
      const oldest = this.m.keys().next();
      if (oldest.done) break;
      this.m.delete(oldest.value);
    }
  }
  get size(): number {
    return this.m.size;
  }
  values(): IterableIterator<V> {
    return this.m.values();
  }
}
