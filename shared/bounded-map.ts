/** Options of a BoundedMap. */
export interface BoundedMapOptions<K, V> {
  /**
   * Called with each entry dropped because the map grew past its capacity, after it is gone (not
   * for `delete` or `clear`). Lets a caller forget what it kept elsewhere about that entry.
   */
  onEvict?: (key: K, value: V) => void;
}

/**
 * A Map that keeps only its newest `capacity` entries: remembers answers by request id, pending
 * plans or unmatched outcomes without growing forever.
 *
 * Age is insertion order: `set` makes the entry the newest, also when the key was already there
 * (a plain Map would keep its old place), and the oldest entries are dropped first. `get` and
 * `has` do not refresh an entry (this is not an LRU cache). Iteration runs oldest first, and
 * deleting entries while iterating is safe, as with a Map.
 */
export class BoundedMap<K, V> implements Iterable<[K, V]> {
  private readonly m = new Map<K, V>();
  private readonly onEvict: ((key: K, value: V) => void) | undefined;

  constructor(
    readonly capacity: number,
    options: BoundedMapOptions<K, V> = {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a whole number of at least 1, got ${capacity}`);
    this.onEvict = options.onEvict;
  }

  get size(): number {
    return this.m.size;
  }

  get(key: K): V | undefined {
    return this.m.get(key);
  }

  has(key: K): boolean {
    return this.m.has(key);
  }

  /** Stores the entry as the newest, then drops the oldest ones while there are too many. */
  set(key: K, value: V): this {
    this.m.delete(key);
    this.m.set(key, value);
    while (this.m.size > this.capacity) {
      const [oldestKey, oldestValue] = this.m.entries().next().value as [K, V];
      this.m.delete(oldestKey);
      this.onEvict?.(oldestKey, oldestValue);
    }
    return this;
  }

  /** Removes the entry; true when it was there. */
  delete(key: K): boolean {
    return this.m.delete(key);
  }

  clear(): void {
    this.m.clear();
  }

  /** Keys, oldest first. */
  keys(): IterableIterator<K> {
    return this.m.keys();
  }

  /** Values, oldest first. */
  values(): IterableIterator<V> {
    return this.m.values();
  }

  /** [key, value] pairs, oldest first. */
  entries(): IterableIterator<[K, V]> {
    return this.m.entries();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.m.entries();
  }
}
