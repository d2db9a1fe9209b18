// The maximum of a value over a sliding time window, in O(1) amortised per sample, keeping only
// the samples that can still become the maximum (a decreasing run, usually a handful): the
// orchestrator remembers every VM's memory peak over a day of 10-second reports this way.

export class WindowMax {
  private ts: number[] = [];
  private vs: number[] = [];
  private head = 0;

  /** Samples older than `windowMs` before `now` no longer count; <= 0: only the newest counts. */
  constructor(private readonly windowMs: number) {}

  /** Adds a sample; one older than the newest is ignored (reports arrive in order). */
  push(ts: number, value: number): void {
    const n = this.ts.length;
    if (n > this.head && ts < this.ts[n - 1]!) return;
    if (this.windowMs <= 0) this.head = n;
    // A newer sample at least as large makes every smaller older one irrelevant for good.
    while (this.ts.length > this.head && this.vs[this.vs.length - 1]! <= value) {
      this.ts.pop();
      this.vs.pop();
    }
    this.ts.push(ts);
    this.vs.push(value);
    this.compact();
  }

  /** The maximum over the samples newer than now − window (the newest always counts), or null when there is none. */
  max(now: number): number | null {
    const last = this.ts.length - 1;
    if (last < this.head) return null;
    while (this.head < last && this.ts[this.head]! <= now - this.windowMs) this.head += 1;
    this.compact();
    return this.vs[this.head]!;
  }

  /** Samples kept (for tests and memory accounting). */
  get size(): number {
    return this.ts.length - this.head;
  }

  private compact(): void {
    if (this.head > 16 && this.head * 2 > this.ts.length) {
      this.ts = this.ts.slice(this.head);
      this.vs = this.vs.slice(this.head);
      this.head = 0;
    }
  }
}
