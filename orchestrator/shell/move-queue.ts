import { randomBytes } from "node:crypto";
import type { PlannedMove } from "../../shared/schemas/plan.js";
import type { Inventories } from "./migration-reconciler.js";
import type { MigrationTracker } from "./migration-tracker.js";

// Turns a plan's moves into queued migrations (the dispatcher starts them as slots free). A VM
// already queued or migrating is not queued twice. Each record notes the VM's memory and CPU as
// reported now: the dispatcher reserves them on the destination while the migration runs.
//
// The request ids of the orchestrator's own migrations are unguessable: `m-<time>-<random>`, the
// queue time in base 36 (readable, roughly sortable) and 16 characters (80 bits) from the
// system's cryptographic random source. An agent that could guess a running migration's id could
// at least aim forged outcomes at it (the reconciler refuses those, but need not be the only guard).

/** Lower-case base32 (RFC 4648 "extended hex"): 5 bits a character, valid in a RequestId. */
const BASE32 = "0123456789abcdefghijklmnopqrstuv";
/** Random characters in a generated request id. */
const RANDOM_CHARS = 16;

/** A new request id `m-<now in base 36>-<16 random base32 characters>` (at most 27 characters). */
export function newRequestId(now: number): string {
  // 256 is a multiple of 32: each byte's low 5 bits are uniform.
  const rnd = [...randomBytes(RANDOM_CHARS)].map((b) => BASE32[b & 31]).join("");
  return `m-${Math.max(0, Math.floor(now)).toString(36)}-${rnd}`;
}

export class MoveQueue {
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
        requestId: requestId !== undefined && moves.length === 1 ? requestId : newRequestId(now),
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
}
