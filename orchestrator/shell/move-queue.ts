import type { PlannedMove } from "../../shared/schemas/plan.js";
import type { Inventories } from "./migration-reconciler.js";
import type { MigrationTracker } from "./migration-tracker.js";

// Turns a plan's moves into queued migrations (the dispatcher starts them as slots free). A VM
// already queued or migrating is not queued twice. Each record notes the VM's memory and CPU as
// reported now: the dispatcher reserves them on the destination while the migration runs.

export class MoveQueue {
  private seq = 0;

  constructor(
    private readonly tracker: MigrationTracker,
    private readonly inventories: Pick<Inventories, "locate">,
  ) {}

  /** Queues the moves of plan `planId`; returns how many were queued. `requestId` names a single move (operator migrate). */
  enqueue(moves: readonly PlannedMove[], planId: string, now: number, requestId?: string): number {
    let n = 0;
    for (const m of moves) {
      if (this.tracker.busy(m.vm)) continue;
      const vm = this.reported(m.vm);
      this.tracker.enqueue({
        requestId: requestId !== undefined && moves.length === 1 ? requestId : this.newRequestId(now),
        vm: m.vm,
        source: m.source,
        destination: m.destination,
        strategy: m.strategy,
        code: m.code,
        reason: m.reason,
        numbers: m.numbers,
        planId,
        state: "PENDING",
        queuedAt: now,
        memMiB: vm?.memMiB ?? m.costMiB,
        cpuPercent: vm?.cpuPercent ?? 0,
      });
      n++;
    }
    return n;
  }

  private reported(name: string): { memMiB: number; cpuPercent: number } | undefined {
    const where = this.inventories.locate(name);
    const loc = where.find((l) => l.info.state === "running") ?? where[0];
    return loc ? { memMiB: loc.info.memMiB, cpuPercent: loc.info.cpuPercent ?? 0 } : undefined;
  }

  private newRequestId(now: number): string {
    this.seq = (this.seq + 1) % 1_000_000;
    return `m-${now.toString(36)}-${this.seq.toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  }
}
