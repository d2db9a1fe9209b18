import { z } from "zod";
import { DecisionCode } from "./decision-codes.js";
import { MigrationRecord } from "./migration-record.js";
import { Numbers } from "./numbers.js";

// What the orchestrator publishes on ballast.orch.events (`nats sub ballast.orch.events`), and
// hands to its own listeners (metrics, dashboard): one message per migration change and per cycle.

// No .describe() on the two event objects themselves: zod folds the message's intersection into
// plain objects only when its members carry nothing but fields (the reference shows the folded form).

/** A migration changed: its whole record as it is now. */
export const MigrationChanged = z.object({
  type: z.literal("migration").describe("A migration was queued, started, made progress, was put back in the queue, or ended."),
  record: MigrationRecord.describe("The migration's whole record as it is now."),
});

/** A cycle was planned and acted on. */
export const CycleCompleted = z.object({
  type: z
    .literal("cycle")
    .describe("A cycle (periodic, started early by an overloaded host, or asked for with `run`) was planned and acted on per the automation level."),
  planId: z.string().describe("Id of the cycle's plan."),
  moves: z.number().int().min(0).describe("Moves the plan proposed."),
  decisions: z.number().int().min(0).describe("Decisions and non-decisions the plan recorded."),
  queued: z
    .number()
    .int()
    .min(0)
    .describe(
      "Moves queued for dispatch: 0 unless automation is full and the orchestrator is not paused (otherwise the plan waits for approve); VMs already queued or migrating are not queued again.",
    ),
});

/** Host failure (docs/host-failure.md): something an operator must know or act on. */
export const RecoveryAlertEvent = z.object({
  type: z.literal("recovery-alert").describe("Host failure: an alert of the recovery of failed hosts (also logged as a warning)."),
  alert: z
    .enum(["isolated", "fence_impossible", "fence_failed", "agent_down", "host_returned", "start_refused", "start_failed", "duplicate_running"])
    .describe(
      "isolated: most hosts went silent at once, recovery paused; fence_impossible: a failed host has no power driver; fence_failed: its power-offs were not confirmed (both: nothing is restarted until `ballast recover HOST --confirm-fenced`); agent_down: an agent is silent while its libvirt answers (nothing restarted); host_returned: a fenced host reports again; start_refused: a restart found a domain of that name on its destination; start_failed: a restart's start failed and is not tried again; duplicate_running: a VM runs on two hosts (paused on the one its record does not name, when there is a record naming one of them).",
    ),
  host: z.string().nullable().describe("The host concerned; null for isolated."),
  code: DecisionCode.nullable().describe("The decision code behind it, when there is one."),
  message: z.string().describe("What happened and what to do, one paragraph."),
  numbers: Numbers.describe("The figures behind it, by name."),
});
export type RecoveryAlert = Omit<z.infer<typeof RecoveryAlertEvent>, "type">;

export const OrchestratorEvent = z.discriminatedUnion("type", [MigrationChanged, CycleCompleted, RecoveryAlertEvent]);
export type OrchestratorEvent = z.infer<typeof OrchestratorEvent>;

/** The message on the bus: the event with a format version and the orchestrator's time. */
export const OrchestratorEventMessage = z.intersection(
  z.object({
    v: z.literal(1).describe("Format version of the message."),
    ts: z.number().describe("When it was published, ms since the epoch (orchestrator clock)."),
  }),
  OrchestratorEvent,
);
export type OrchestratorEventMessage = z.infer<typeof OrchestratorEventMessage>;
