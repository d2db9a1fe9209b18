import { z } from "zod";
import { IncomingRefusalCode, MigrationStats } from "./agent-api.js";
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

/** What the destination's own check (check-incoming) said before the migration was sent. */
export const DestinationCheck = z
  .object({
    at: z.number().describe("When it answered (or was given up on), ms since the epoch (orchestrator clock)."),
    result: z
      .enum(["ok", "refused", "no-answer", "not-checked"])
      .describe(
        "ok: every check passed; refused: the destination refused (refusals); no-answer: it did not answer in time (the move was skipped); not-checked: the destination's agent has no check-incoming (an older agent) or the VM's facts are not known, so the move went ahead unchecked.",
      ),
    refusals: z
      .array(
        z.object({
          code: IncomingRefusalCode.describe("Which check failed."),
          message: z.string().max(2000).describe("What failed, in libvirt's words where it said it."),
        }),
      )
      .max(64)
      .optional()
      .describe("The destination's refusals, in its (libvirt's) words; only when refused."),
    note: z.string().max(2000).optional().describe("Why it was not checked, or what went wrong asking."),
  })
  .strict();
export type DestinationCheck = z.infer<typeof DestinationCheck>;

/** The source copies of a moved VM's local disks, handled per local_disk_source. */
/** Files an agent did not remove, and why. */
const NotRemoved = z
  .array(z.object({ path: z.string().max(4096).describe("The file."), reason: z.string().max(2000).describe("Why it was not removed, as the agent said.") }))
  .max(64);

export const SourceDisks = z
  .object({
    policy: z.enum(["keep", "remove"]).describe("local_disk_source when the migration was sent."),
    paths: z.array(z.string().max(4096)).max(64).describe("The source copies: the copied disks' files on the source, from the VM's facts at dispatch time."),
    kept: z.array(z.string().max(4096)).max(64).optional().describe("Files left on the source (keep, or not removed: see error and notRemoved)."),
    removed: z.array(z.string().max(4096)).max(64).optional().describe("Files the source agent removed (remove)."),
    notRemoved: NotRemoved.optional().describe("Files the source agent refused to remove, and why."),
    error: z.string().max(2000).optional().describe("Why nothing was removed (remove-disks failed or was not asked); absent otherwise."),
  })
  .strict()
  .describe("Absent until the copy-storage migration succeeded; with remove, paths alone while waiting for the destination to list the VM running.");
export type SourceDisks = z.infer<typeof SourceDisks>;

export const DestinationDisks = z
  .object({
    removed: z.array(z.string().max(4096)).max(64).describe("Partial copies the destination agent removed."),
    notRemoved: NotRemoved.optional().describe("Files it did not remove, and why."),
    error: z.string().max(2000).optional().describe("Why nothing was removed; absent otherwise."),
  })
  .strict()
  .describe(
    "A copy-storage migration that failed after it started leaves the disk files libvirt created on the destination; they are removed there (the destination check had found those paths free), so the next try is not refused with DISK_EXISTS.",
  );
export type DestinationDisks = z.infer<typeof DestinationDisks>;

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
    copyStorage: z
      .boolean()
      .optional()
      .describe("The migrate command allowed copying local disks (local_disks / local_disks_vms: copy, and the VM has local writable disks)."),
    checked: DestinationCheck.optional().describe(
      "The destination's check-incoming before the command was sent; absent: not asked (queued, or skipped earlier).",
    ),
    timeoutS: z.number().int().min(1).optional().describe("The time limit the source agent runs the migration under, seconds (its accept)."),
    copyDisks: z.array(z.string()).max(64).optional().describe("Target names of the local disks copied with the VM (the agent's accept); absent: none."),
    diskBytes: z.number().int().min(0).optional().describe("Bytes of local disk to copy, per the agent's accept; absent: none."),
    postcopy: z.boolean().optional().describe("Started with post-copy allowed (migration.on_timeout: postcopy), per the agent's accept."),
    postcopySwitched: z.boolean().optional().describe("It switched to post-copy at its time limit (the outcome's stats)."),
    sourceDisks: SourceDisks.optional().describe("What became of the source copies of the disks it copied."),
    destinationDisks: DestinationDisks.optional().describe("After a failed copy-storage migration: what became of the partial copies on the destination."),
  })
  .describe("One migration the orchestrator decided on, from queueing to its outcome.");
export type MigrationRecord = z.infer<typeof MigrationRecord>;
