import type { MigrationEvent } from "../../shared/schemas/agent-api.js";
import type { InFlightMigration, PastMove } from "../../shared/schemas/snapshot.js";
import { RingBuffer } from "./ring-buffer.js";
import { FINAL_STATES, type MigrationRecord, type MigrationState } from "../../shared/schemas/migration-record.js";

// Queued and running migrations, and the history of finished ones. Outcomes arrive as agent
// events; when an agent restarted or went silent, reconcile() settles them from the inventories.

export class MigrationTracker {
  private readonly queue: MigrationRecord[] = [];
  private readonly running = new Map<string, MigrationRecord>();
  private readonly done: RingBuffer<MigrationRecord>;
  private readonly listeners: ((r: MigrationRecord) => void)[] = [];

  constructor(historySize: number) {
    this.done = new RingBuffer(historySize);
  }

  onChange(fn: (r: MigrationRecord) => void): void {
    this.listeners.push(fn);
  }

  private emit(r: MigrationRecord): void {
    for (const fn of this.listeners) fn(r);
  }

  /** Tells the listeners (HA store, events) that a record changed in place (the agent's accept, the source disks' fate). */
  touch(r: MigrationRecord): void {
    this.emit(r);
  }

  enqueue(r: MigrationRecord): void {
    this.queue.push(r);
    this.emit(r);
  }

  queued(): readonly MigrationRecord[] {
    return this.queue;
  }

  ongoing(): MigrationRecord[] {
    return [...this.running.values()];
  }

  get(requestId: string): MigrationRecord | undefined {
    return this.running.get(requestId) ?? this.queue.find((r) => r.requestId === requestId);
  }

  /** Is this VM queued or migrating right now? */
  busy(vm: string): boolean {
    return this.queue.some((r) => r.vm === vm) || [...this.running.values()].some((r) => r.vm === vm);
  }

  start(r: MigrationRecord, now: number): void {
    this.removeFromQueue(r);
    r.state = "ONGOING";
    r.startedAt = now;
    this.running.set(r.requestId, r);
    this.emit(r);
  }

  finish(r: MigrationRecord, state: MigrationState, now: number, error?: string): void {
    if (!FINAL_STATES.has(state)) throw new Error(`finish() needs a final state, got ${state}`);
    this.removeFromQueue(r);
    this.running.delete(r.requestId);
    r.state = state;
    r.finishedAt = now;
    if (error !== undefined) r.error = error;
    this.done.push(r);
    this.emit(r);
  }

  /**
   * Puts a started migration back at the head of the queue (its command was never sent: the
   * ONGOING state could not be stored first, HA).
   */
  unstart(r: MigrationRecord): void {
    if (!this.running.delete(r.requestId)) return;
    r.state = "PENDING";
    delete r.startedAt;
    this.queue.unshift(r);
    this.emit(r);
  }

  /**
   * Replaces everything with records loaded from the shared store (a new HA leader): queued and
   * ongoing ones are continued, finished ones (oldest first) feed history and cooldowns. Emits nothing.
   */
  restore(records: readonly MigrationRecord[]): void {
    this.queue.length = 0;
    this.running.clear();
    this.done.clear();
    const finished = records.filter((r) => FINAL_STATES.has(r.state)).sort((a, b) => (a.finishedAt ?? 0) - (b.finishedAt ?? 0));
    for (const r of finished) this.done.push(r);
    for (const r of records.filter((x) => x.state === "PENDING").sort((a, b) => a.queuedAt - b.queuedAt)) this.queue.push(r);
    for (const r of records.filter((x) => x.state === "ONGOING")) this.running.set(r.requestId, r);
  }

  /** Cancels every queued (not started) migration matching the filter. */
  cancelQueued(keep: (r: MigrationRecord) => boolean, now: number, why: string): number {
    const victims = this.queue.filter((r) => !keep(r));
    for (const r of victims) this.finish(r, "CANCELLED", now, why);
    return victims.length;
  }

  private removeFromQueue(r: MigrationRecord): void {
    const i = this.queue.indexOf(r);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Applies an agent event; returns the record it concerned, if we know it. */
  applyEvent(ev: MigrationEvent, now: number): MigrationRecord | undefined {
    const r = this.running.get(ev.requestId);
    if (!r) return undefined;
    switch (ev.type) {
      case "migration.started":
        return r;
      case "migration.progress":
        if (ev.progress !== undefined) r.progress = ev.progress;
        this.emit(r);
        return r;
      case "migration.succeeded":
        if (ev.stats) r.stats = ev.stats;
        if (ev.stats?.postcopy !== undefined) r.postcopySwitched = ev.stats.postcopy;
        r.progress = 100;
        this.finish(r, "SUCCEEDED", now);
        return r;
      case "migration.failed":
        if (ev.stats) r.stats = ev.stats;
        this.finish(r, "FAILED", now, ev.error ?? "migration failed (no error text from the agent)");
        return r;
      case "migration.aborted":
        this.finish(r, "CANCELLED", now, ev.error ?? "migration aborted");
        return r;
    }
  }

  history(filter: { vm?: string; host?: string; limit: number }): MigrationRecord[] {
    return this.done.newest(
      filter.limit,
      (r) => (filter.vm === undefined || r.vm === filter.vm) && (filter.host === undefined || r.source === filter.host || r.destination === filter.host),
    );
  }

  /**
   * The planner's view: migrations running and queued. Queued ones count too: a consolidation's
   * whole emptying can wait in the queue for several cycles, and the next plan must see its
   * destinations as taken (and its VMs as moving), not pack more onto them.
   */
  inFlight(): InFlightMigration[] {
    return [...this.queue, ...this.running.values()]
      .map((r) => ({
        requestId: r.requestId,
        vm: r.vm,
        source: r.source,
        destination: r.destination,
        startedAt: r.startedAt ?? r.queuedAt,
        memMiB: r.memMiB,
        cpuPercent: r.cpuPercent,
      }))
      .sort((a, b) => a.requestId.localeCompare(b.requestId));
  }

  /**
   * Finished moves since `since`, oldest first, for cooldowns and ping-pong detection. Each carries
   * the strategy that planned it: the planner counts the moves an operator forced (evacuate,
   * manual) for cooldowns but not towards a ping-pong freeze.
   */
  pastMoves(since: number): PastMove[] {
    return this.done
      .toArray()
      .filter((r) => r.finishedAt !== undefined && r.finishedAt >= since && r.startedAt !== undefined)
      .filter((r) => r.state === "SUCCEEDED" || r.state === "FAILED" || r.state === "CANCELLED")
      .map((r) => ({
        vm: r.vm,
        source: r.source,
        destination: r.destination,
        finishedAt: r.finishedAt!,
        outcome: r.state === "SUCCEEDED" ? ("succeeded" as const) : r.state === "FAILED" ? ("failed" as const) : ("aborted" as const),
        strategy: r.strategy,
      }));
  }
}
