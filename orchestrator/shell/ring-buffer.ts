/** Fixed-capacity FIFO: keeps the newest `capacity` items, oldest first. */
export class RingBuffer<T> {
  private items: T[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  push(item: T): void {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
  }

  clear(): void {
    this.items = [];
    this.start = 0;
  }

  get size(): number {
    return this.items.length;
  }

  /** Oldest first. */
  toArray(): T[] {
    return this.start === 0 ? this.items.slice() : [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }

  /** Newest first, filtered, at most `limit`. */
  newest(limit: number, keep: (t: T) => boolean = () => true): T[] {
    const out: T[] = [];
    for (let i = this.items.length - 1; i >= 0 && out.length < limit; i--) {
      const item = this.items[(this.start + i) % this.items.length]!;
      if (keep(item)) out.push(item);
    }
    return out;
  }
}
