import type { Logger } from "pino";
import { BoundedMap } from "../../shared/bounded-map.js";
import type { MigrationEvent } from "../../shared/schemas/agent-api.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { VmInfo } from "../../shared/schemas/vm.js";
import type { MigrationTracker } from "./migration-tracker.js";

// Matches migration outcomes with what the orchestrator tracks, and settles the migrations whose
// outcome never came from what the agents' inventories say (where a VM runs is the truth).
//   - An outcome event for a migration this instance does not track (a standby; or a leader that
//     has not loaded the shared state yet) is kept and applied when the migration is adopted.
//   - Migrations continued from a previous leader ("adopted") may have finished while nobody
//     listened: the inventories settle a finished success.
//   - A source agent that restarted during a migration, or a migration past migration_timeout,
//     is settled from the inventories.

/** Outcome events of migrations not tracked (yet), kept at most. */
const MAX_UNMATCHED = 10_000;

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
  private readonly unmatched = new BoundedMap<string, MigrationEvent>(MAX_UNMATCHED);
  private readonly adopted = new Set<string>();

  constructor(private readonly o: ReconcilerOptions) {}

  /** An agent's migration event (already checked to come from the host it names). */
  onEvent(ev: MigrationEvent, now: number): void {
    const r = this.o.tracker.applyEvent(ev, now);
    if (!r && ev.type !== "migration.started" && ev.type !== "migration.progress") this.unmatched.set(ev.requestId, ev);
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
      const ev = this.unmatched.get(r.requestId);
      if (ev) tracker.applyEvent(ev, now);
    }
    this.unmatched.clear();
  }

  /** Settles migrations whose outcome event never came (see the file comment). */
  reconcile(now: number): void {
    const { tracker, inventories, migrationTimeoutS } = this.o;
    for (const r of tracker.ongoing()) {
      const started = r.startedAt ?? r.queuedAt;
      const restarted = (inventories.agentStartedAt(r.source) ?? 0) > started;
      const timedOut = now - started > migrationTimeoutS * 1000;
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
            : `no outcome within ${migrationTimeoutS}s; ${r.vm} is still on ${r.source}`,
        );
      else if (timedOut && running.length === 0)
        tracker.finish(r, "FAILED", now, `no outcome within ${migrationTimeoutS}s and ${r.vm} is not running anywhere reported`);
    }
  }
}
