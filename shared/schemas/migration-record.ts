import { z } from "zod";
import { MigrationStats } from "./agent-api.js";
import { HostId, MigrationAddress, RequestId, VmName } from "./ids.js";
import { MoveCode } from "./decision-codes.js";
import { Numbers, StrategyName } from "./plan.js";

// One migration the orchestrator decided on, from queueing to its outcome: what `history`,
// `migrate` and `explain` answer, what the orchestrator publishes on ballast.orch.events, and what
// HA orchestrators keep in their shared store.

/** Watcher's action states: a step whose pre-condition no longer holds is SKIPPED, not FAILED. */
export const MigrationState = z.enum(["PENDING", "ONGOING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"]);
export type MigrationState = z.infer<typeof MigrationState>;

export const FINAL_STATES: ReadonlySet<MigrationState> = new Set(["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"]);

export const MigrationRecord = z
  .object({
    requestId: RequestId.describe(
      "Id of the migration: the operator's requestId for an operator migrate that gave one, else one the orchestrator made up; the agent gets the same id.",
    ),
    vm: VmName.describe("The VM to move."),
    source: HostId.describe("The host the VM was planned off."),
    destination: HostId.describe("The host the VM is planned onto."),
    destinationAddress: MigrationAddress.optional().describe(
      "The destination's migration-network address (host_mapping), set when the command was sent; absent while queued.",
    ),
    strategy: StrategyName.describe("The strategy that planned the move (manual: an operator's migrate)."),
    code: MoveCode.describe("Why it was planned: HOST_OVERLOADED, IMBALANCE, CONSOLIDATE, EVACUATE or MANUAL."),
    reason: z.string().describe("The planned move's reason: one sentence a person can read, with the numbers in it."),
    numbers: Numbers.optional().describe("The figures behind the reason, by name, as the plan gave them."),
    planId: z.string().optional().describe("Id of the plan the move came from."),
    state: MigrationState.describe(
      "PENDING: queued; ONGOING: sent to the source agent; SUCCEEDED; FAILED: refused by the agent, failed, or settled from the inventories (no outcome within migration_timeout, or the source agent restarted) with the VM not on its destination; SKIPPED: a pre-condition no longer held when its turn came (the VM left its source or already migrates, an end went silent, the destination cannot take it); CANCELLED: aborted on the agent.",
    ),
    queuedAt: z.number().describe("When it was queued, ms since the epoch (orchestrator clock)."),
    startedAt: z.number().optional().describe("When its command was sent to the source agent, ms since the epoch (orchestrator clock); absent while queued."),
    finishedAt: z.number().optional().describe("When it reached its final state, ms since the epoch (orchestrator clock); absent until then."),
    progress: z
      .number()
      .min(0)
      .max(100)
      .optional()
      .describe("Percent of the data transferred, as the agent last reported it (100 once succeeded); absent until reported."),
    stats: MigrationStats.optional().describe("The agent's statistics of the migration; absent unless it succeeded (and reported them)."),
    error: z
      .string()
      .optional()
      .describe(
        "What went wrong or how the outcome was settled: libvirt's or the agent's error text, why the move was skipped, or a note such as an outcome taken from the inventories. Also set while ONGOING when the agent did not answer the command.",
      ),
    memMiB: z
      .number()
      .min(0)
      .describe("The VM's memory when queued, MiB (the plan's cost estimate if no agent listed it): reserved on the destination while the migration runs."),
    cpuPercent: z
      .number()
      .min(0)
      .describe("The VM's CPU use when queued, percent of ONE core (0 when not measured): reserved on the destination while the migration runs."),
  })
  .describe("One migration the orchestrator decided on, from queueing to its outcome.");
export type MigrationRecord = z.infer<typeof MigrationRecord>;
