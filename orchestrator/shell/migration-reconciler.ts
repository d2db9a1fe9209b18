import type { Logger } from "pino";
import { BoundedMap } from "../../shared/bounded-map.js";
import type { MigrationEvent } from "../../shared/schemas/agent-api.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { VmInfo } from "../../shared/schemas/vm.js";
import type { MigrationTracker } from "./migration-tracker.js";

// Matches migration outcomes with what the orchestrator tracks, and settles the migrations whose
// outcome never came from what the agents' inventories say (where a VM runs is the truth).
//   - A migration's events count only from the agent that runs it: its source, which the
//     orchestrator sent the migrate command to. An event is published by the host it names as
//     `source` (bus-intake.ts drops any other), so an event whose source, VM or destination differs
//     from the migration's record is another agent's forgery (or a confused agent): it changes
//     nothing, is counted (rejectedOutcomes) and logged.
//   - An outcome event for a migration this instance does not track (a standby; or a leader that
//     has not loaded the shared state yet) is kept, per publishing agent, and applied when the
//     migration is adopted, after the same check.
//   - Migrations continued from a previous leader ("adopted") may have finished while nobody
//     listened: the inventories settle a finished success.
//   - A source agent that restarted during a migration, or a migration past migration_timeout,
//     is settled from the inventories.

/** Outcome events of migrations not tracked (yet), kept at most. */
const MAX_UNMATCHED = 10_000;
/**
 * Of those, kept at most per publishing agent (its newest): an agent flooding made-up outcomes
 * pushes out only its own, never the real outcome another agent published.
 */
const MAX_UNMATCHED_PER_AGENT = 200;

/** Where the newest inventories place VMs, and when each agent started. */
export interface Inventories {
  locate(vm: string): { host: string; info: VmInfo }[];
  agentStartedAt(host: string): number | undefined;
}

export interface ReconcilerOptions {
  tracker: MigrationTracker;
  inventories: Inventories;
  /** Seconds after which a migration without an outcome is settled from the inventories. */
  migrationTimeoutS: number;
  log: Logger;
  /** A migration ended: a slot is free (the dispatcher starts what waits). */
  onFinished: (r: MigrationRecord) => void;
}

export class MigrationReconciler {
  /** Kept outcomes: publishing agent → request id → event. */
  private readonly unmatched = new Map<string, BoundedMap<string, MigrationEvent>>();
  /** Every kept outcome (`agent requestId`), oldest first: bounds the total. */
  private readonly unmatchedOrder = new BoundedMap<string, { agent: string; requestId: string }>(MAX_UNMATCHED, {
    onEvict: (_k, { agent, requestId }) => this.forget(agent, requestId),
  });
  private readonly adopted = new Set<string>();
  private rejected = 0;

  constructor(private readonly o: ReconcilerOptions) {}

  /** Migration events refused since start: not from the migration's source agent, or naming another VM or destination. */
  get rejectedOutcomes(): number {
    return this.rejected;
  }

  /**
   * An agent's migration event, already checked to come from the host it names as `source`
   * (bus-intake.ts): `ev.source` is the publisher.
   */
  onEvent(ev: MigrationEvent, now: number): void {
    const tracked = this.o.tracker.get(ev.requestId);
    if (tracked) {
      const why = mismatch(ev, tracked);
      if (why !== undefined) return this.reject(ev, why);
    }
    const r = this.o.tracker.applyEvent(ev, now);
    if (!r && ev.type !== "migration.started" && ev.type !== "migration.progress") this.keep(ev);
    if (r && r.state !== "ONGOING") {
      this.adopted.delete(r.requestId);
      this.o.log.info({ requestId: r.requestId, vm: r.vm, state: r.state, stats: r.stats, error: r.error }, "migration finished");
      this.o.onFinished(r);
    }
  }

  /**
   * Continues the migrations of a previous leader: replaces what the tracker holds, and applies the
   * outcomes seen while standing by.
   */
  adopt(records: readonly MigrationRecord[], now: number): void {
    const { tracker } = this.o;
    tracker.restore(records);
    this.adopted.clear();
    for (const r of tracker.ongoing()) this.adopted.add(r.requestId);
    for (const r of tracker.ongoing()) {
      // Only what the migration's own source published counts; the same id from others is forged.
      for (const [agent, kept] of this.unmatched) {
        const ev = kept.get(r.requestId);
        if (ev === undefined || agent === r.source) continue;
        this.reject(ev, mismatch(ev, r) ?? `published by ${agent}`);
      }
      const ev = this.unmatched.get(r.source)?.get(r.requestId);
      if (ev === undefined) continue;
      const why = mismatch(ev, r);
      if (why !== undefined) this.reject(ev, why);
      else tracker.applyEvent(ev, now);
    }
    this.unmatched.clear();
    this.unmatchedOrder.clear();
  }

  /** Settles migrations whose outcome event never came (see the file comment). */
  reconcile(now: number): void {
    const { tracker, inventories, migrationTimeoutS } = this.o;
    for (const r of tracker.ongoing()) {
      const started = r.startedAt ?? r.queuedAt;
      const restarted = (inventories.agentStartedAt(r.source) ?? 0) > started;
      // The agent's own limit (scaled to memory and disks) may exceed the configured one: allow it and a margin.
      const limitS = Math.max(migrationTimeoutS, (r.timeoutS ?? 0) + 60);
      const timedOut = now - started > limitS * 1000;
      const adopted = this.adopted.has(r.requestId);
      if (!restarted && !timedOut && !adopted) continue;
      const listed = inventories.locate(r.vm);
      const running = listed.filter((l) => l.info.state === "running");
      const onDest = running.some((l) => l.host === r.destination);
      const onSource = running.some((l) => l.host === r.source);
      // A restarted agent does not know the job its predecessor started (libvirtd goes on with a
      // p2p migration): the destination's incoming, not yet running copy says it is still under way.
      const incoming = listed.some((l) => l.host === r.destination && l.info.state !== "running");
      const stillMigrating = running.some((l) => l.info.migrating) || incoming;
      if (adopted && !restarted && !timedOut) {
        // Continued from a previous leader whose outcome event may have come before this instance
        // listened: the inventories settle a finished success; anything else waits for its event.
        if (onDest && !onSource && !stillMigrating) {
          this.adopted.delete(r.requestId);
          tracker.finish(r, "SUCCEEDED", now, "outcome taken from inventories: the migration finished while leadership changed");
        }
        continue;
      }
      if (onDest && !onSource)
        tracker.finish(r, "SUCCEEDED", now, restarted ? "outcome taken from inventories: source agent restarted during the migration" : undefined);
      else if (onSource && !stillMigrating && !onDest)
        tracker.finish(
          r,
          "FAILED",
          now,
          restarted
            ? `source agent ${r.source} restarted during the migration; ${r.vm} stayed on ${r.source}`
            : `no outcome within ${limitS}s; ${r.vm} is still on ${r.source}`,
        );
      else if (timedOut && running.length === 0) tracker.finish(r, "FAILED", now, `no outcome within ${limitS}s and ${r.vm} is not running anywhere reported`);
    }
  }

  /** Keeps an outcome of a migration not tracked (yet), under the agent that published it. */
  private keep(ev: MigrationEvent): void {
    const agent = ev.source;
    let kept = this.unmatched.get(agent);
    if (!kept) {
      kept = new BoundedMap(MAX_UNMATCHED_PER_AGENT, { onEvict: (id) => this.unmatchedOrder.delete(`${agent} ${id}`) });
      this.unmatched.set(agent, kept);
    }
    kept.set(ev.requestId, ev);
    this.unmatchedOrder.set(`${agent} ${ev.requestId}`, { agent, requestId: ev.requestId });
  }

  private forget(agent: string, requestId: string): void {
    const kept = this.unmatched.get(agent);
    kept?.delete(requestId);
    if (kept?.size === 0) this.unmatched.delete(agent);
  }

  private reject(ev: MigrationEvent, why: string): void {
    const n = ++this.rejected;
    // Rate-limited: a flood of forgeries must not flood the log.
    if (n <= 10 || n % 1000 === 0)
      this.o.log.warn(
        { requestId: ev.requestId, type: ev.type, vm: ev.vm, publisher: ev.source, destination: ev.destination, why, count: n },
        "migration event rejected: not from the agent that runs the migration",
      );
  }
}

/** Why an event (published by `ev.source`) is not the migration's own; undefined when it is. */
function mismatch(ev: MigrationEvent, r: MigrationRecord): string | undefined {
  const wrong: string[] = [];
  if (ev.source !== r.source) wrong.push(`published by ${ev.source}, but the migration runs from ${r.source}`);
  if (ev.vm !== r.vm) wrong.push(`names VM ${ev.vm}, the migration moves ${r.vm}`);
  if (ev.destination !== r.destination) wrong.push(`names destination ${ev.destination}, the migration goes to ${r.destination}`);
  return wrong.length > 0 ? wrong.join("; ") : undefined;
}
